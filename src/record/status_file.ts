/**
 * The status file: what the last cycle did and counters since boot, replaced
 * after every cycle (`run` and the daemon), for `wg-reinstate status`, the
 * metrics file and LuCI. It holds counts per interface and per reason only:
 * never a key (not even a short one), a preshared key, an endpoint address
 * or any per-peer time, since per-peer records with times would be the very
 * activity log this tool exists to prevent.
 *
 * The counters live in the file so that cron `run`s add up like a daemon's
 * cycles. They restart after a reboot (the system's uptime went down; the
 * file sits on a RAM file system by default, which a reboot empties anyway)
 * or when the file cannot be read back.
 *
 * @module
 */
import * as z from "../common/z.ts";
import { ParseError } from "../common/errors.ts";
import { describeFsError } from "../common/fs_errors.ts";
import { readRegularText } from "../config/read_file.ts";
import { labelOf } from "../config/settings_registry.ts";
import { DirChecks } from "../common/dir_checks.ts";
import { checkOpened, replaceFile, splitPath } from "../common/safe_path.ts";
import type { CycleReport } from "../purge/mod.ts";
import { redactPeers } from "../wg/redact.ts";

const count = z.int().check(z.minimum(0));
const counts = z.record(z.string(), count);

/** One interface in the last cycle. */
const interfaceSchema = z.strictObject({
  name: z.string(),
  checked: count,
  /** Purged (or, in a dry run, to be purged), by reason: `stale`, `unconfirmed`. */
  purged: counts,
  /** Kept, by reason. */
  kept: counts,
  /** Peers that needed a repair after the purge, and how many of them stayed broken. */
  repaired: count,
  notRestored: count,
  /** Stale peers left for the next cycle because of a stop request. */
  stoppedEarly: count,
  error: z.nullable(z.string()),
});

const lastCycleSchema = z.strictObject({
  /** Unix seconds when the cycle ended. */
  finishedAt: z.number(),
  durationSeconds: z.number().check(z.minimum(0)),
  result: z.enum(["ok", "failed"]),
  dryRun: z.boolean(),
  /** Why the cycle stopped before reaching the interfaces, or null. */
  error: z.nullable(z.string()),
  /** Interfaces skipped because another wg-reinstate held them. */
  busy: z.array(z.string()),
  interfaces: z.array(interfaceSchema),
});

const totalsSchema = z.strictObject({
  /** Unix seconds of the first cycle counted. */
  since: z.number(),
  cycles: z.strictObject({ ok: count, failed: count }),
  /** Peers purged, by interface (dry runs purge none). */
  purged: counts,
  repaired: counts,
});

/** The status file's schema; its own output is checked when read back, like any input. */
export const statusSchema = z.strictObject({
  format: z.literal(1),
  /**
   * Seconds since the system booted when the file was written: a smaller one
   * next time means a reboot, which restarts the counters.
   */
  uptime: z.number().check(z.minimum(0)),
  lastCycle: lastCycleSchema,
  totals: totalsSchema,
});

/** The status file's contents. */
export type Status = z.infer<typeof statusSchema>;
/** The last cycle, as the status file holds it. */
export type LastCycle = Status["lastCycle"];

/** How a cycle ended: with its report, or on the error that stopped it. */
export type CycleEnd = { report: CycleReport } | { error: unknown };

/** Adds `n` to the count of `key`. */
function add(counts: Map<string, number>, key: string, n: number): void {
  counts.set(key, (counts.get(key) ?? 0) + n);
}

/**
 * Counts as the file holds them: a plain object, each key an own property,
 * built from a Map so that a key such as `constructor` or `__proto__` is a
 * count like any other (an interface may be named so).
 */
function countsObject(counts: ReadonlyMap<string, number>): Record<string, number> {
  return Object.fromEntries(counts);
}

/** Sums a record of counts. */
export function sum(record: Readonly<Record<string, number>>): number {
  return Object.values(record).reduce((a, b) => a + b, 0);
}

function errorText(error: unknown): string {
  return redactPeers(error instanceof Error ? error.message : String(error));
}

/** The last cycle from its outcome, with every trace of a peer left out. Pure. */
export function summarizeCycle(
  outcome: CycleEnd,
  finishedAt: number,
  durationSeconds: number,
  dryRun: boolean,
): LastCycle {
  if ("error" in outcome) {
    return {
      finishedAt,
      durationSeconds,
      result: "failed",
      dryRun,
      error: errorText(outcome.error),
      busy: [],
      interfaces: [],
    };
  }
  const { report } = outcome;
  return {
    finishedAt,
    durationSeconds: report.durationMs / 1000,
    result: report.ok ? "ok" : "failed",
    dryRun: report.dryRun,
    error: null,
    busy: [...report.busy],
    interfaces: report.interfaces.map((r) => {
      const purged = new Map<string, number>();
      for (const p of r.purged) add(purged, p.reason, 1);
      return {
        name: r.name,
        checked: r.checked,
        purged: countsObject(purged),
        kept: { ...r.kept },
        repaired: r.repaired.length,
        // A peer a failed wg set never touched is whole: not purged, but nothing lost.
        notRestored: r.repaired.filter((x) => !x.restored && !x.intact).length,
        stoppedEarly: r.stoppedEarly,
        error: r.error === null ? null : redactPeers(r.error),
      };
    }),
  };
}

/** Adds the last cycle to the counters of `previous` (same boot) or starts them. Pure. */
export function nextStatus(previous: Status | null, last: LastCycle, uptime: number): Status {
  const before = previous === null || uptime < previous.uptime ? null : previous.totals;
  const cycles = { ok: before?.cycles.ok ?? 0, failed: before?.cycles.failed ?? 0 };
  cycles[last.result]++;
  const purged = new Map(Object.entries(before?.purged ?? {}));
  const repaired = new Map(Object.entries(before?.repaired ?? {}));
  for (const i of last.interfaces) {
    if (!last.dryRun) add(purged, i.name, sum(i.purged));
    add(repaired, i.name, i.repaired);
  }
  const totals: Status["totals"] = {
    since: before?.since ?? last.finishedAt,
    cycles,
    purged: countsObject(purged),
    repaired: countsObject(repaired),
  };
  return { format: 1, uptime, lastCycle: last, totals };
}

/**
 * Parses the status file's text. Pure.
 *
 * @throws {ParseError} naming the file and the field that does not fit
 */
export function parseStatus(text: string, path: string): Status {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ParseError({ source: path, line: 1 }, "not JSON", { cause: error });
  }
  const result = statusSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.map(String).join(".") || "(top)";
  throw new ParseError({ source: path, line: 1, field }, issue.message);
}

/**
 * Reads the status file: null when there is none yet. Anything but a regular
 * file there (a FIFO would block the read) is refused before it is opened.
 *
 * @throws {ParseError} when it does not parse; other read errors as
 *   {@link readRegularText} throws them
 */
export async function readStatus(path: string): Promise<Status | null> {
  let text: string;
  try {
    text = await readRegularText(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  return parseStatus(text, path);
}

/**
 * Seconds since boot, whole. (The boot id in /proc/sys needs more than a
 * read permission in Deno; the uptime needs only `--allow-sys=osUptime`.)
 * 0 where it cannot be read: the counters then go on across reboots (on a
 * RAM file system the file goes with them anyway).
 */
export function uptime(): number {
  try {
    return Math.floor(Deno.osUptime());
  } catch {
    return 0;
  }
}

/** What {@link recordCycle} reports back: a problem to log, if any. */
export interface RecordResult {
  status: Status;
  /** A problem with the files (the cycle itself is not affected), one line. */
  warning: string | null;
}

/**
 * Reads the status file, adds the last cycle, and replaces it atomically. A status
 * file that does not parse is started afresh, with a warning: counters are
 * worth less than the purge, which has already run.
 *
 * @param dirs the cycle's checked directories, where the file's directory is
 *   checked again just before the write
 * @throws {UnsafePathError} when the file's directory fails the safe-path rule
 */
export async function recordCycle(
  path: string,
  last: LastCycle,
  uptimeNow: number,
  dirs: DirChecks = new DirChecks(labelOf),
): Promise<RecordResult> {
  const { dir, name } = splitPath(path);
  const safe = await dirs.check(dir, "statusFile");
  // A cron `run` and a daemon may finish a cycle at once: one read-add-write
  // at a time, or one's counts would be lost. The lock file stays: it is one
  // fixed file in a directory only we can write, and removing it would let a
  // waiter lock a file that is no longer the lock.
  const lockPath = `${safe.path}/.${name}.lock`;
  const lock = await Deno.open(lockPath, { create: true, write: true, mode: 0o600 });
  try {
    await checkOpened(lock, lockPath);
    await lock.lock(true);
    let previous: Status | null = null;
    let warning: string | null = null;
    try {
      previous = await readStatus(`${safe.path}/${name}`);
    } catch (error) {
      warning = `${
        error instanceof ParseError ? error.message : `${path}: ${describeFsError(error)}`
      }; counters start again from this cycle`;
    }
    const status = nextStatus(previous, last, uptimeNow);
    await replaceFile(safe, name, JSON.stringify(status, null, 2) + "\n", 0o644);
    return { status, warning };
  } finally {
    lock.close();
  }
}
