/**
 * The `run` and `status` commands: thin layers over the purge core.
 *
 * @module
 */
import type { Settings } from "../config/schema.ts";
import { loadNetwork, loadProtection } from "../config/protection.ts";
import { type CycleOptions, type CycleReport, readAndPlan, runCycle } from "../purge/cycle.ts";
import { ExitCode } from "../errors.ts";
import { logger } from "../log.ts";
import type { Wg } from "../wg/run.ts";
import { formatStatusTable, statusRows } from "./status.ts";
import type { WireguardNetwork } from "../config/uci_network.ts";

/** What the commands need from the outside world; tests pass their own clock. */
export interface CommandContext {
  wg: Wg;
  /** Wall clock, unix seconds. */
  now: () => number;
  /** Writes to standard output. */
  print: (text: string) => void;
}

/**
 * Cycle options derived from settings.
 *
 * @param observe the daemon's peer memory and monotonic clock; absent for one-shot runs
 */
export function cycleOptions(
  settings: Settings,
  now: () => number,
  observe?: CycleOptions["observe"],
): CycleOptions {
  // The network config is read once per cycle, not once per interface.
  let network: Promise<WireguardNetwork | null> | undefined;
  return {
    interfaces: settings.interfaces,
    dryRun: settings.dryRun,
    argvBudget: settings.argvBudget,
    now,
    policyFor: async (iface) =>
      (await loadProtection(settings, iface, await (network ??= loadNetwork(settings)))).policy,
    tempDir: settings.tempDir ?? undefined,
    lockDir: settings.lockDir,
    observe,
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
  if (!report.ok) return ExitCode.runtime;
  return report.busy.length > 0 ? ExitCode.busy : ExitCode.ok;
}

/** `wg-reinstate status`: every peer and its decision; changes nothing. */
export async function statusCommand(
  settings: Settings,
  json: boolean,
  ctx: CommandContext,
): Promise<number> {
  const planned = await readAndPlan(ctx.wg, cycleOptions(settings, ctx.now));
  const rows = statusRows(planned, descriptionsOf(await loadNetwork(settings)));
  ctx.print(json ? JSON.stringify(rows, null, 2) + "\n" : formatStatusTable(rows));
  return ExitCode.ok;
}

function descriptionsOf(network: WireguardNetwork | null): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const peer of network?.peers ?? []) {
    if (peer.description === null) continue;
    if (!out.has(peer.iface)) out.set(peer.iface, new Map());
    out.get(peer.iface)!.set(peer.publicKey, peer.description);
  }
  return out;
}

/**
 * `wg-reinstate config`: the effective settings and, per interface, the peers
 * that are never purged and why. Reads no WireGuard state.
 */
export async function configCommand(
  settings: Settings,
  uciEnabled: boolean | null,
  print: (text: string) => void,
): Promise<number> {
  const network = await loadNetwork(settings);
  const names = settings.interfaces === "all"
    ? [...new Set([...(network?.interfaces ?? []), ...Object.keys(settings.interfaceOverrides)])]
    : settings.interfaces;
  const interfaces = [];
  for (const name of names) {
    const { policy, protectedPeers } = await loadProtection(settings, name, network);
    interfaces.push({ name, staleAfter: policy.staleAfter, protected: protectedPeers });
  }
  const out = {
    ...(uciEnabled === null ? {} : { enabled: uciEnabled }),
    settings,
    interfacesFrom: settings.interfaces === "all"
      ? "all WireGuard interfaces at run time; listed here: those in the network config"
      : "settings",
    interfaces,
  };
  print(JSON.stringify(out, null, 2) + "\n");
  return ExitCode.ok;
}
