/**
 * One purge cycle: lock, read, plan, purge, verify and repair. The CLI's
 * `run`, the daemon loop and the OpenWrt service all call {@link runCycle}.
 *
 * Nothing is changed until every interface has been read and parsed and every
 * interface's protection has been loaded, so a bad dump or a bad config file
 * stops the cycle with no change at all.
 *
 * The steps return values (apply, repair, {@link purgeInterface}); the
 * report and the log lines are made from them in report.ts, and written
 * once, by {@link runCycle}.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { KeyFileError } from "../common/errors.ts";
import { RUN_DIR } from "../common/paths.ts";
import { DirChecks } from "../common/dir_checks.ts";
import type { WgInterfaceHead, WgPeer } from "../wg/dump.ts";
import { showPeers, type Wg } from "../wg/command.ts";
import type { FlowOutcome } from "../wg/conntrack.ts";
import { purgePeers, type Recheck } from "./apply.ts";
import { PurgeJournal } from "./journal.ts";
import { shuffled } from "./order.ts";
import { type InterfaceLocks, lockInterfaces } from "./lock.ts";
import { SetPace } from "./pace.ts";
import { recoverInterrupted } from "./recover.ts";
import { stillAsRead } from "./verify.ts";
import type { InterfaceWatch, PeerObservations } from "./observations.ts";
import { planCycle, type PlannedInterface, type Policy } from "./plan.ts";
import { InterfacePlanner } from "./planner.ts";
import { verifyAndRepair } from "./repair.ts";
import { REPLAY_POLL_S } from "./schedule.ts";
import {
  cycleLines,
  type CycleOutcome,
  type CycleReport,
  cycleReport,
  emptyOutcome,
  type InterfaceOutcome,
  type PurgedPeer,
  writeLog,
} from "./report.ts";

/** Inputs of one cycle. */
export interface CycleOptions {
  /** Interfaces to read, or `"all"`. */
  interfaces: "all" | readonly string[];
  /** Plan and report, change nothing. */
  dryRun: boolean;
  /** The time limit of a `wg set` of unknown cost (`--wg-timeout`); see {@link SetPace}. */
  wgTimeoutMs: number;
  /** The wall clock in unix seconds; injected so tests can age real handshakes. */
  now: () => number;
  /** Loads the protection (exclusions, configured endpoints) of one interface. */
  policyFor: (iface: string) => Promise<Policy>;
  /** Parent of the private preshared-key directories; default the run directory. */
  keyDir?: string;
  /** Directory of per-interface lock files; null: no locking (status, tests). */
  lockDir: string | null;
  /**
   * The directories checked in this cycle, so that each is walked once
   * (the runner's status and metrics directories among them); default a new set.
   */
  dirs?: DirChecks;
  /**
   * The daemon's memory of peer states, with its monotonic clock (seconds).
   * Absent for a one-shot `run`, which then refuses to purge at all when a
   * handshake lies in the future (the wall clock is behind).
   */
  observe?: { observations: PeerObservations; monotonic: () => number };
  /** Waits between repair attempts; default a real timer. Tests pass their own. */
  sleep?: (ms: number) => Promise<void>;
  /** A monotonic clock in milliseconds that times `wg set` calls; default performance.now. */
  clockMs?: () => number;
  /**
   * A stop request (SIGTERM): no new `wg set` is started, the running one
   * finishes, and what was attempted is verified and repaired.
   */
  stop?: AbortSignal;
  /**
   * Deletes the connection-tracking flows of UDP ports after a purge
   * (wg/conntrack.ts); absent: none are deleted (tests of a FAKE `wg`).
   */
  forgetFlows?: (ports: readonly number[]) => Promise<FlowOutcome>;
  /**
   * A daemon's cycle at a peer's deadline: when uneventful, it logs
   * nothing, since its time follows from that peer's handshake time.
   */
  quiet?: boolean;
}

/** Milliseconds between two repair attempts. */
const REPAIR_RETRY_DELAY_MS = 1000;

/**
 * A read older than this is repeated before a `wg set` call, so that a
 * peer someone else changed since is left out of it: what remains is a
 * change made during the call itself (about 2 s, see pace.ts).
 */
const MAX_READ_AGE_MS = 250;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs one purge cycle over the configured interfaces, and logs what it did:
 * the one place a cycle's log lines are written, from its outcome (see
 * report.ts), also when it stops on an error.
 *
 * @throws {WgError} when the first read fails or wg's output does not parse (nothing was changed)
 * @throws {ConfigError} when protection cannot be loaded (nothing was changed)
 * @throws {RuntimeError} when the lock directory cannot be used (nothing was changed)
 * @throws {UnsafePathError} when the lock or key directory fails the safe-path rule (nothing was changed)
 */
export async function runCycle(wg: Wg, options: CycleOptions, log: Logger): Promise<CycleReport> {
  const started = performance.now();
  const cycle: CycleOutcome = {
    dryRun: options.dryRun,
    recovered: [],
    busy: [],
    refusal: null,
    missing: [],
    interfaces: [],
    durationMs: 0,
    nextDeadline: null,
  };
  let report: CycleReport | null = null;
  try {
    await purgeCycle(wg, options, cycle);
    cycle.durationMs = Math.round(performance.now() - started);
    report = cycleReport(cycle);
    return report;
  } finally {
    if (!(options.quiet && report?.uneventful)) writeLog(log, cycleLines(cycle, report));
  }
}

/** The cycle itself: fills in `cycle` as it goes, so that what it did survives an error. */
async function purgeCycle(wg: Wg, given: CycleOptions, cycle: CycleOutcome): Promise<void> {
  const options = { ...given, dirs: given.dirs ?? new DirChecks() };
  if (!options.dryRun) {
    // An unsafe key directory stops the cycle here, before any change. The
    // purges killed before this one are put right first, each under its
    // interface's lock (released again before this cycle locks).
    const keyDir = await options.dirs.check(options.keyDir ?? RUN_DIR, "keyDir");
    cycle.recovered = await recoverInterrupted(wg, {
      keyDir,
      keyDirPath: options.keyDir,
      dirs: options.dirs,
      lockDir: options.lockDir,
      repair: repairOptions(options),
    });
  }
  let interfaces = options.interfaces;
  let locks: InterfaceLocks | null = null;
  if (options.lockDir !== null) {
    // Lock before reading, so that what is applied was read under the lock.
    locks = await lockInterfaces(
      options.lockDir,
      interfaces === "all" ? await wg.interfaces() : interfaces,
      options.dirs,
    );
    cycle.busy = locks.busy;
    interfaces = locks.held;
  }
  try {
    const nothing = interfaces !== "all" && interfaces.length === 0;
    // Taken before the read, so a read's age is never understated.
    const readAtMs = clockOf(options)();
    const plan = planCycle(
      nothing ? [] : await readAndPlan(wg, { ...options, interfaces }),
      interfaces,
      options.observe !== undefined,
    );
    cycle.refusal = plan.refusal;
    cycle.missing = plan.missing;
    for (const planned of plan.interfaces) {
      const { iface, nextDeadline, saveConfig, warnings } = planned;
      const outcome = plan.refusal === null
        ? await purgeInterface(wg, planned, readAtMs, options)
        : emptyOutcome(iface.name, planned);
      outcome.saveConfig = saveConfig;
      outcome.warnings = warnings;
      cycle.interfaces.push(outcome);
      if (nextDeadline !== null) {
        cycle.nextDeadline = Math.min(cycle.nextDeadline ?? Infinity, nextDeadline);
      }
      if (options.observe !== undefined && !options.dryRun && outcome.purged.length > 0) {
        const keys = outcome.purged.map((p) => p.publicKey);
        options.observe.observations.purged(iface.name, keys, options.observe.monotonic());
        cycle.nextDeadline = Math.min(cycle.nextDeadline ?? Infinity, wakeForReplays(options));
      }
    }
    // An interface another wg-reinstate held is tried again soon.
    if (options.observe !== undefined && cycle.busy.length > 0) {
      cycle.nextDeadline = Math.min(cycle.nextDeadline ?? Infinity, wakeForReplays(options));
    }
  } finally {
    locks?.release();
  }
}

/**
 * Reads the interfaces and plans every peer as it is read, changing
 * nothing; keeps the peers to purge, or with `keepAll` (`status`) every
 * peer. Every interface's policy is loaded as its line is read, before its
 * peers, and nothing is returned before the read is whole, so a config
 * error or a bad line surfaces before any change is made.
 */
export async function readAndPlan(
  wg: Wg,
  options: Pick<CycleOptions, "interfaces" | "now" | "policyFor" | "observe" | "dryRun">,
  keepAll = false,
): Promise<PlannedInterface[]> {
  const observe = options.observe;
  const monotonic = observe?.monotonic() ?? 0;
  observe?.observations.clocks(options.now(), monotonic);
  const reading: { policy: Policy; head: WgInterfaceHead; planner: InterfacePlanner }[] = [];
  const watches: InterfaceWatch[] = [];
  await wg.scan(options.interfaces, {
    iface: async (head) => {
      const policy = await options.policyFor(head.name);
      const watch = observe?.observations.watch(head.name, monotonic);
      if (watch !== undefined) watches.push(watch);
      reading.push({
        policy,
        head,
        planner: new InterfacePlanner(head.name, policy, options.now, watch, keepAll),
      });
    },
    peer: (peer, line) => reading.at(-1)!.planner.add(peer, line),
  });
  // What the daemon saw is kept only from a whole read.
  for (const watch of watches) watch.end();
  const wallNow = options.now();
  return reading.map(({ policy, head, planner }) => ({
    iface: head,
    // Whole seconds, as WireGuard gives a latest handshake, for ages shown.
    now: Math.floor(wallNow),
    checked: planner.checked,
    kept: planner.kept,
    plans: planner.plans,
    nextDeadline: planner.nextDeadline(wallNow),
    saveConfig: policy.saveConfig,
    warnings: policy.warnings,
  }));
}

/** The moment of the next look for replays, unix seconds (see REPLAY_POLL_S). */
function wakeForReplays(options: CycleOptions): number {
  return options.now() + REPLAY_POLL_S;
}

function clockOf(options: CycleOptions): () => number {
  return options.clockMs ?? (() => performance.now());
}

/** The options of repairs, and of the replay of a killed purge. */
function repairOptions(options: CycleOptions) {
  return {
    pace: new SetPace(options.wgTimeoutMs),
    clockMs: options.clockMs,
    sleep: options.sleep ?? realSleep,
    retryDelayMs: REPAIR_RETRY_DELAY_MS,
  };
}

/**
 * Re-reads the interface before a call when the last read is older than
 * {@link MAX_READ_AGE_MS}, and leaves out of the call every peer that
 * someone else removed or changed since it was read, or that handshook again.
 */
function rechecker(
  wg: Wg,
  name: string,
  readAtMs: number,
  clock: () => number,
): (batch: WgPeer[]) => Promise<Recheck<WgPeer>> {
  let lastRead = readAtMs;
  return async (batch) => {
    if (clock() - lastRead < MAX_READ_AGE_MS) return { keep: batch, leftAlone: [] };
    lastRead = clock();
    const keys = new Set(batch.map((p) => p.publicKey));
    return stillAsRead(batch, (await showPeers(wg, name, keys)).peers);
  };
}

/** Purges one interface's stale peers, then verifies and repairs; returns what it did. */
async function purgeInterface(
  wg: Wg,
  planned: PlannedInterface,
  readAtMs: number,
  options: CycleOptions,
): Promise<InterfaceOutcome> {
  const { iface, plans } = planned;
  const name = iface.name;
  const outcome = emptyOutcome(name, planned);
  const decided = new Map<string, PurgedPeer>();
  const stale: WgPeer[] = [];
  for (const { peer, decision } of plans) {
    if (decision.action !== "purge") continue;
    decided.set(peer.publicKey, { publicKey: peer.publicKey, ...decision });
    stale.push(peer);
  }
  const purged = (peers: readonly WgPeer[]) => peers.map((p) => decided.get(p.publicKey)!);
  if (options.dryRun) return { ...outcome, purged: purged(stale) };
  if (stale.length === 0) return outcome;

  const identity = { name, publicKey: iface.publicKey, listenPort: iface.listenPort };
  const open = () => PurgeJournal.open(options.keyDir, options.dirs, identity);
  let journal: PurgeJournal | null = null;
  try {
    journal = await open();
    const repair = repairOptions(options);
    const applied = await purgePeers(
      wg,
      name,
      shuffled(stale),
      journal,
      { pace: repair.pace, clockMs: options.clockMs, stop: options.stop },
      rechecker(wg, name, readAtMs, clockOf(options)),
    );
    outcome.notAttempted = applied.notAttempted;
    outcome.tooLarge = applied.tooLarge.map((p) => p.publicKey);
    outcome.leftAlone = applied.leftAlone;
    if (applied.failure !== null) {
      // A failure before any peer reached wg (a key file not written) changed nothing.
      const unchanged = applied.attempted.length === 0;
      outcome.failure = { message: applied.failure.message, unchanged };
    }
    if (applied.attempted.length > 0) {
      const unsettled = new Set(applied.unsettled.map((p) => p.publicKey));
      outcome.repair = await verifyAndRepair(wg, name, applied.attempted, unsettled, {
        ...repair,
        reopen: open,
      });
    }
    const bad = new Set(outcome.repair?.findings.map((f) => f.expected.publicKey));
    for (const l of outcome.repair?.leftAlone ?? []) bad.add(l.publicKey);
    const attempted = new Set(applied.attempted.map((p) => p.publicKey));
    // Reported in the order read: the order handed to wg is not to be kept.
    outcome.purged = purged(
      stale.filter((p) => attempted.has(p.publicKey) && !bad.has(p.publicKey)),
    );
  } catch (error) {
    if (!(error instanceof KeyFileError)) throw error;
    outcome.failure = { message: error.message, unchanged: true };
  } finally {
    await journal?.remove().catch((error: Error) => (outcome.cleanupError = error.message));
  }
  // The flows name the purged clients' addresses: the host's table forgets
  // them with WireGuard, not when they expire. By port, so that no address
  // is ever in an argv.
  const stopped = options.stop?.aborted === true;
  if (outcome.purged.length > 0 && options.forgetFlows && iface.listenPort > 0 && !stopped) {
    outcome.flows = await options.forgetFlows([iface.listenPort]);
  }
  return outcome;
}
