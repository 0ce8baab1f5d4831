/**
 * The status file: what the last cycle did and counters since boot, replaced
 * after every cycle (`run` and the daemon), for `wg-reinstate status`, the
 * metrics file and LuCI. It holds counts per interface and per reason, and
 * per interface a histogram of lingers (counts per bucket and their sum) only:
 * never a key (not even a short one), a preshared key, an endpoint address
 * or any per-peer time, since per-peer records with times would be the very
 * activity log this tool exists to prevent.
 *
 * The counters live in the file so that cron `run`s add up like a daemon's
 * cycles. They restart after a reboot (the system's uptime went down; the
 * file sits on a RAM file system by default, which a reboot empties anyway)
 * or when the file cannot be read back. A file of the previous format (1,
 * before the linger histograms and the unrestored counts) is read as one
 * whose new counters are still 0: they count from the first cycle after it.
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

/**
 * The upper bounds of the linger histogram's buckets, in seconds (a last
 * bucket, +Inf, takes the rest). The target is a purge at most 1 s past the
 * deadline plus one cycle: 0.25 to 2 resolve it, and the p99 alert's 2 s
 * (docs/prometheus/) sits on a bound, so the quantile estimated from the
 * buckets falls on the same side of it as the true one; 5 to 60 cover
 * sleeps of seconds to a minute (a late daemon, a cron `run` a minute), 300
 * a cron `run` every five minutes. The file holds counts per bucket: a
 * change here is a format change.
 */
export const LINGER_BUCKETS: readonly number[] = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300];

/**
 * How long past their deadlines the peers of an interface were purged:
 * counts per bucket and one sum, never a list of times.
 */
const lingerSchema = z.strictObject({
  /** Peers per bucket (not cumulative), one count per bound and a last for +Inf. */
  buckets: z.array(count).check(z.length(LINGER_BUCKETS.length + 1)),
  /** Their lingers added up, in seconds (to the millisecond). */
  sumSeconds: z.number().check(z.minimum(0)),
});

/** The linger histogram of one interface, as the status file holds it. */
export type Linger = z.infer<typeof lingerSchema>;

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
  /** Its wg-quick file has `SaveConfig = true`; absent in a file of format 1. */
  saveConfig: z.optional(z.boolean()),
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

/** The totals of format 1, which format 2 extends. */
const totalsV1 = {
  /** Unix seconds of the first cycle counted. */
  since: z.number(),
  cycles: z.strictObject({ ok: count, failed: count }),
  /** Peers purged, by interface (dry runs purge none). */
  purged: counts,
  repaired: counts,
};

const totalsSchema = z.strictObject({
  ...totalsV1,
  /** Repaired peers that could not be restored, by interface. */
  notRestored: counts,
  /** The linger of every peer purged, by interface (dry runs purge none). */
  linger: z.record(z.string(), lingerSchema),
});

/** The format {@link nextStatus} writes. */
const FORMAT = 2;

/** What both formats hold besides `format` and `totals`. */
const statusFields = {
  /**
   * Seconds since the system booted when the file was written: a smaller one
   * next time means a reboot, which restarts the counters.
   */
  uptime: z.number().check(z.minimum(0)),
  lastCycle: lastCycleSchema,
};

/** The status file's schema; its own output is checked when read back, like any input. */
export const statusSchema = z.strictObject({
  format: z.literal(FORMAT),
  ...statusFields,
  totals: totalsSchema,
});

/** The previous format, read as the current one with the counters it lacks at 0. */
const statusV1Schema = z.pipe(
  z.strictObject({ format: z.literal(1), ...statusFields, totals: z.strictObject(totalsV1) }),
  z.transform((v1): z.infer<typeof statusSchema> => ({
    ...v1,
    format: FORMAT,
    totals: { ...v1.totals, notRestored: {}, linger: {} },
  })),
);

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
        saveConfig: r.saveConfig,
      };
    }),
  };
}

/** The lingers of one cycle's purged peers, binned by interface (see {@link lingerOf}). */
export type CycleLinger = ReadonlyMap<string, Linger>;

/** Milliseconds, as the file keeps sums: no float noise such as 0.30000000000000004. */
function toMs(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/** A linger histogram with no peer in it. */
export function emptyLinger(): Linger {
  return { buckets: new Array(LINGER_BUCKETS.length + 1).fill(0), sumSeconds: 0 };
}

function addLinger(a: Linger, b: Linger): Linger {
  return {
    buckets: a.buckets.map((n, i) => n + b.buckets[i]),
    sumSeconds: toMs(a.sumSeconds + b.sumSeconds),
  };
}

/**
 * The lingers of the peers a cycle purged, by interface, each binned at
 * once: what leaves here is an aggregate. Empty when the cycle stopped on
 * an error. Pure.
 */
export function lingerOf(outcome: CycleEnd): Map<string, Linger> {
  const out = new Map<string, Linger>();
  if ("error" in outcome) return out;
  for (const r of outcome.report.interfaces) {
    const linger = out.get(r.name) ?? emptyLinger();
    for (const { lingerSeconds } of r.purged) {
      const bucket = LINGER_BUCKETS.findIndex((bound) => lingerSeconds <= bound);
      linger.buckets[bucket < 0 ? LINGER_BUCKETS.length : bucket]++;
      linger.sumSeconds = toMs(linger.sumSeconds + lingerSeconds);
    }
    out.set(r.name, linger);
  }
  return out;
}

/**
 * Adds the last cycle to the counters of `previous` (same boot) or starts them. Pure.
 *
 * @param linger the cycle's lingers ({@link lingerOf}); a dry run's are not added
 */
export function nextStatus(
  previous: Status | null,
  last: LastCycle,
  uptime: number,
  linger: CycleLinger = new Map(),
): Status {
  const before = previous === null || uptime < previous.uptime ? null : previous.totals;
  const cycles = { ok: before?.cycles.ok ?? 0, failed: before?.cycles.failed ?? 0 };
  cycles[last.result]++;
  const purged = new Map(Object.entries(before?.purged ?? {}));
  const repaired = new Map(Object.entries(before?.repaired ?? {}));
  const notRestored = new Map(Object.entries(before?.notRestored ?? {}));
  const lingers = new Map(Object.entries(before?.linger ?? {}));
  for (const i of last.interfaces) {
    if (!last.dryRun) {
      add(purged, i.name, sum(i.purged));
      // Every interface of a real cycle gets a histogram, zeros too: a rate needs a first sample.
      lingers.set(
        i.name,
        addLinger(lingers.get(i.name) ?? emptyLinger(), linger.get(i.name) ?? emptyLinger()),
      );
    }
    add(repaired, i.name, i.repaired);
    add(notRestored, i.name, i.notRestored);
  }
  const totals: Status["totals"] = {
    since: before?.since ?? last.finishedAt,
    cycles,
    purged: countsObject(purged),
    repaired: countsObject(repaired),
    notRestored: countsObject(notRestored),
    linger: Object.fromEntries(lingers),
  };
  return { format: FORMAT, uptime, lastCycle: last, totals };
}

function isFormat1(value: unknown): boolean {
  return typeof value === "object" && value !== null && "format" in value && value.format === 1;
}

/**
 * Parses the status file's text, of this format or the previous one. Pure.
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
  const result = (isFormat1(value) ? statusV1Schema : statusSchema).safeParse(value);
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
 * @param linger the cycle's lingers ({@link lingerOf})
 * @throws {UnsafePathError} when the file's directory fails the safe-path rule
 */
export async function recordCycle(
  path: string,
  last: LastCycle,
  uptimeNow: number,
  dirs: DirChecks = new DirChecks(labelOf),
  linger: CycleLinger = new Map(),
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
    const status = nextStatus(previous, last, uptimeNow, linger);
    await replaceFile(safe, name, JSON.stringify(status, null, 2) + "\n", 0o644);
    return { status, warning };
  } finally {
    lock.close();
  }
}
