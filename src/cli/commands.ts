/**
 * The `run` and `status` commands: thin layers over the purge core.
 *
 * @module
 */
import type { Settings } from "../config/schema.ts";
import { loadPolicy } from "../config/protection.ts";
import { type CycleOptions, type CycleReport, readAndPlan, runCycle } from "../purge/cycle.ts";
import { DEFAULT_ARGV_BUDGET } from "../purge/set_args.ts";
import { ExitCode } from "../errors.ts";
import { logger } from "../log.ts";
import type { Wg } from "../wg/run.ts";
import { formatStatusTable, statusRows } from "./status.ts";

/** What the commands need from the outside world; tests pass their own clock. */
export interface CommandContext {
  wg: Wg;
  /** Wall clock, unix seconds. */
  now: () => number;
  /** Writes to standard output. */
  print: (text: string) => void;
}

/** Cycle options derived from settings. */
export function cycleOptions(settings: Settings, now: () => number): CycleOptions {
  return {
    interfaces: settings.interfaces,
    dryRun: settings.dryRun,
    argvBudget: DEFAULT_ARGV_BUDGET,
    now,
    policyFor: (iface) => loadPolicy(settings, iface),
  };
}

/** `wg-reinstate run`: one cycle. Returns the exit code. */
export async function runCommand(
  settings: Settings,
  json: boolean,
  ctx: CommandContext,
): Promise<number> {
  const report: CycleReport = await runCycle(
    ctx.wg,
    cycleOptions(settings, ctx.now),
    logger("purge"),
  );
  if (json) ctx.print(JSON.stringify(report, null, 2) + "\n");
  return report.ok ? ExitCode.ok : ExitCode.runtime;
}

/** `wg-reinstate status`: every peer and its decision; changes nothing. */
export async function statusCommand(
  settings: Settings,
  json: boolean,
  ctx: CommandContext,
): Promise<number> {
  const rows = statusRows(await readAndPlan(ctx.wg, cycleOptions(settings, ctx.now)));
  ctx.print(json ? JSON.stringify(rows, null, 2) + "\n" : formatStatusTable(rows));
  return ExitCode.ok;
}
