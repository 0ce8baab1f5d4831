/**
 * One purge cycle as `run` and the daemon run it: the status and metrics
 * files checked first (a path that could not be written stops the cycle
 * before any change, see {@link checkOutputs}), then the cycle, then the
 * status file and the metrics file replaced.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { RuntimeError, UnsafePathError } from "../common/errors.ts";
import { describeFsError } from "../common/fs_errors.ts";
import { labelOf } from "../config/settings_registry.ts";
import { DirChecks, type DirSetting } from "../common/dir_checks.ts";
import {
  checkFileSlot,
  type FileId,
  kernelFileSystem,
  replaceFile,
  resolvePath,
  type SafeDir,
  splitPath,
} from "../common/safe_path.ts";
import type { Settings } from "../config/schema.ts";
import type { CycleReport } from "../purge/mod.ts";
import { renderMetrics } from "./metrics.ts";
import { lingerOf, recordCycle, summarizeCycle, uptime } from "./status_file.ts";

/** A metrics directory made here is readable by the exporter, which may run as its own user. */
const METRICS_DIR_MODE = 0o755;

/** The settings that name the files a cycle leaves behind. */
export type OutputSettings = Pick<Settings, "statusFile" | "metricsFile">;

/** One file a cycle writes, as checked. */
interface CheckedOutput {
  path: string;
  dir: SafeDir;
  name: string;
  /** The file there now (through a link), or null. */
  file: FileId | null;
}

/**
 * Checks, before a cycle changes anything, that it can write the status
 * file and the metrics file when it ends: neither on /proc or /sys (checked
 * before a directory is made: some there make kernel objects); each
 * directory safe (safe_path.ts); each file absent or a regular file, in a
 * directory that takes a new file; and the two apart, since the metrics
 * written over the status file would reset its counters every cycle. They are one
 * file when their paths resolve to one (links, `..`), when they are one name
 * in one directory, or when both exist as one inode (hard links).
 *
 * @param dirs the cycle's checked directories, which keep these directories
 * @throws {UnsafePathError} naming the setting and the path; nothing was changed
 */
export async function checkOutputs(settings: OutputSettings, dirs: DirChecks): Promise<void> {
  const wanted: { setting: DirSetting; path: string; mode: number }[] = [
    { setting: "statusFile", path: settings.statusFile, mode: 0o700 },
  ];
  if (settings.metricsFile !== null) {
    wanted.push({ setting: "metricsFile", path: settings.metricsFile, mode: METRICS_DIR_MODE });
  }
  const resolved = await Promise.all(wanted.map((w) => resolvePath(w.path)));
  wanted.forEach(({ setting, path }, i) => {
    const kernel = kernelFileSystem(resolved[i]);
    if (kernel !== null) {
      throw new UnsafePathError(
        `${dirs.label(setting)}: ${path} is on ${kernel}, a kernel file system; ` +
          "refusing to write there",
      );
    }
  });
  const sameFile = (status: string, metrics: string): never => {
    throw new UnsafePathError(
      `${dirs.label("metricsFile")}: ${metrics} is the same file as ${
        dirs.label("statusFile")
      } ${status}; refusing to write there`,
    );
  };
  if (resolved.length === 2 && resolved[0] === resolved[1]) {
    sameFile(wanted[0].path, wanted[1].path);
  }
  const checked: CheckedOutput[] = [];
  for (const { setting, path, mode } of wanted) {
    const { dir: dirPath, name } = splitPath(path);
    const dir = await dirs.check(dirPath, setting, mode);
    const file = await checkFileSlot(dir, name, dirs.label(setting));
    checked.push({ path, dir, name, file });
  }
  const [status, metrics] = checked;
  if (metrics === undefined) return;
  const oneName = status.name === metrics.name && status.dir.dev === metrics.dir.dev &&
    status.dir.ino === metrics.dir.ino;
  const oneInode = status.file !== null && metrics.file !== null &&
    status.file.dev === metrics.file.dev && status.file.ino === metrics.file.ino;
  if (oneName || oneInode) sameFile(status.path, metrics.path);
}

/**
 * Runs `cycle` and records what became of it, failed or not.
 *
 * @param cycle the cycle, given the directories checked so far, to check its own in
 * @param now the wall clock, unix seconds (the cycle's end time)
 * @param dirs the cycle's checked directories: each is walked once, and
 *   checked again just before a write
 * @param maxSleep the daemon's longest sleep between two cycles (its
 *   `interval`: it wakes sooner at each peer's deadline, never later), for
 *   the metrics file; null for `run`, whose schedule is cron's
 * @param quiet a daemon's cycle at a peer's deadline: when its report is
 *   `uneventful`, it is not recorded (its time follows from that peer's
 *   handshake time, and counting it would show when it ran)
 * @throws {UnsafePathError} when the status or metrics file could not be written (see
 *   {@link checkOutputs}; no cycle ran)
 * @throws {RuntimeError} when the cycle ran but the status or metrics file could not be written
 * @throws what the cycle threw, after recording it as a failed cycle
 */
export async function runRecordedCycle(
  settings: OutputSettings & Pick<Settings, "dryRun">,
  cycle: (dirs: DirChecks) => Promise<CycleReport>,
  now: () => number,
  log: Logger,
  dirs: DirChecks = new DirChecks(labelOf),
  maxSleep: number | null = null,
  quiet = false,
): Promise<CycleReport> {
  await checkOutputs(settings, dirs);
  const started = performance.now();
  let report: CycleReport | null = null;
  let failure: { error: unknown } | null = null;
  try {
    report = await cycle(dirs);
  } catch (error) {
    failure = { error };
  }
  if (quiet && report?.uneventful) return report;
  const outcome = report === null ? failure! : { report };
  const last = summarizeCycle(
    outcome,
    now(),
    (performance.now() - started) / 1000,
    settings.dryRun,
  );
  try {
    const { status, warning } = await recordCycle(
      settings.statusFile,
      last,
      uptime(),
      dirs,
      lingerOf(outcome),
    );
    if (warning !== null) log.warning("{warning}", { warning });
    if (settings.metricsFile !== null) {
      const { dir, name } = splitPath(settings.metricsFile);
      const safe = await dirs.check(dir, "metricsFile", METRICS_DIR_MODE);
      await replaceFile(safe, name, renderMetrics(status, maxSleep), 0o644);
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
