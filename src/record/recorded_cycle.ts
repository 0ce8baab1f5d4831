/**
 * One purge cycle as `run` and the daemon run it: the status and metrics
 * paths checked first (an unsafe one stops the cycle before any change),
 * then the cycle, then the status file and the metrics file replaced.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { RuntimeError } from "../common/errors.ts";
import { describeFsError } from "../common/fs_errors.ts";
import { labelOf } from "../config/settings_registry.ts";
import { DirChecks } from "../common/dir_checks.ts";
import { replaceFile, splitPath } from "../common/safe_path.ts";
import type { Settings } from "../config/schema.ts";
import type { CycleReport } from "../purge/mod.ts";
import { renderMetrics } from "./metrics.ts";
import { recordCycle, summarizeCycle, uptime } from "./status_file.ts";

/** A metrics directory made here is readable by the exporter, which may run as its own user. */
const METRICS_DIR_MODE = 0o755;

/**
 * Runs `cycle` and records what became of it, failed or not.
 *
 * @param cycle the cycle, given the directories checked so far, to check its own in
 * @param now the wall clock, unix seconds (the cycle's end time)
 * @param dirs the cycle's checked directories: each is walked once, and
 *   checked again just before a write
 * @throws {UnsafePathError} when the status or metrics file's directory is unsafe (no cycle ran)
 * @throws {RuntimeError} when the cycle ran but the status or metrics file could not be written
 * @throws what the cycle threw, after recording it as a failed cycle
 */
export async function runRecordedCycle(
  settings: Pick<Settings, "statusFile" | "metricsFile" | "dryRun">,
  cycle: (dirs: DirChecks) => Promise<CycleReport>,
  now: () => number,
  log: Logger,
  dirs: DirChecks = new DirChecks(labelOf),
): Promise<CycleReport> {
  await dirs.check(splitPath(settings.statusFile).dir, "statusFile");
  if (settings.metricsFile !== null) {
    await dirs.check(splitPath(settings.metricsFile).dir, "metricsFile", METRICS_DIR_MODE);
  }
  const started = performance.now();
  let report: CycleReport | null = null;
  let failure: { error: unknown } | null = null;
  try {
    report = await cycle(dirs);
  } catch (error) {
    failure = { error };
  }
  const last = summarizeCycle(
    report === null ? failure! : { report },
    now(),
    (performance.now() - started) / 1000,
    settings.dryRun,
  );
  try {
    const { status, warning } = await recordCycle(settings.statusFile, last, uptime(), dirs);
    if (warning !== null) log.warning("{warning}", { warning });
    if (settings.metricsFile !== null) {
      const { dir, name } = splitPath(settings.metricsFile);
      const safe = await dirs.check(dir, "metricsFile", METRICS_DIR_MODE);
      await replaceFile(safe, name, renderMetrics(status), 0o644);
    }
  } catch (error) {
    const problem = new RuntimeError(
      `cannot write the status or metrics file: ${describeFsError(error)}`,
      { cause: error },
    );
    if (failure !== null) log.error("{error}", { error: problem.message });
    else throw problem;
  }
  if (failure !== null) throw failure.error;
  return report!;
}
