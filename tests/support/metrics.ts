/**
 * Metrics files as the tool writes them: cycle reports with chosen lingers,
 * each recorded by the real code (runRecordedCycle: the status file read,
 * added to and replaced, the metrics file rendered from it), as cron `run`s
 * or a daemon's cycles leave them.
 *
 * @module
 */
import { logger } from "../../src/cli/log.ts";
import { type CycleReport, noneKept } from "../../src/purge/mod.ts";
import { runRecordedCycle } from "../../src/record/recorded_cycle.ts";
import { withLogs } from "./log_capture.ts";
import { keyN } from "./peers.ts";

/** A cycle: the lingers of the peers it purged, by interface, or `"failed"` (it threw). */
export type CycleSpec = Record<string, number[]> | "failed";

/** The report of a cycle that purged peers with `lingers` (seconds), by interface. */
export function reportWith(
  lingers: Record<string, number[]>,
  over: Partial<CycleReport> = {},
): CycleReport {
  let n = 0;
  return {
    dryRun: false,
    busy: [],
    durationMs: 12,
    ok: true,
    nextDeadline: null,
    uneventful: false,
    interfaces: Object.entries(lingers).map(([name, seconds]) => ({
      name,
      checked: seconds.length + 1,
      purged: seconds.map((lingerSeconds) => ({
        publicKey: keyN(n++),
        reason: "stale" as const,
        idleSeconds: 180 + lingerSeconds,
        lingerSeconds,
      })),
      kept: { ...noneKept(), active: 1 },
      repaired: [],
      error: null,
      stoppedEarly: 0,
      saveConfig: false,
    })),
    ...over,
  };
}

/**
 * Records `cycles` one after another with one status file in `dir`, each
 * as a `run` of its own would, and returns the metrics file after the last.
 *
 * @param dryRun the settings' `--dry-run` (the reports say so too)
 * @param maxSleep the longest sleep the metrics file states; null as for `run`
 */
export async function metricsAfter(
  dir: string,
  cycles: readonly CycleSpec[],
  { dryRun = false, maxSleep = null }: { dryRun?: boolean; maxSleep?: number | null } = {},
): Promise<string> {
  const settings = {
    statusFile: `${dir}/status/status.json`,
    metricsFile: `${dir}/metrics/wg-reinstate.prom`,
    dryRun,
  };
  let now = 1_800_000_000;
  for (const cycle of cycles) {
    const run = () =>
      cycle === "failed"
        ? Promise.reject(new Error("wg show failed"))
        : Promise.resolve(reportWith(cycle, { dryRun }));
    const { lines } = await withLogs(() =>
      runRecordedCycle(settings, run, () => now += 30, logger("purge"), undefined, maxSleep)
        .catch((error: Error) => {
          if (cycle !== "failed") throw error;
        })
    );
    if (lines.some((l) => l.includes("[WRN]") || l.includes("[ERR]"))) {
      throw new Error(`recording a cycle logged:\n${lines.join("\n")}`);
    }
  }
  return await Deno.readTextFile(settings.metricsFile);
}
