/**
 * One purge cycle: lock, read, plan, purge, verify and repair. The CLI's
 * `run`, the daemon loop and the OpenWrt service all call {@link runCycle}.
 *
 * Nothing is changed until every interface has been read and parsed and every
 * interface's protection has been loaded, so a bad dump or a bad config file
 * stops the cycle with no change at all.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { KeyFileError } from "../common/errors.ts";
import { RUN_DIR } from "../common/paths.ts";
import { safeDir } from "../common/safe_path.ts";
import type { WgPeer } from "../wg/dump.ts";
import type { Wg } from "../wg/run.ts";
import { type ApplyOptions, purgePeers } from "./apply.ts";
import { KeyDir, removeOrphanedKeyDirs } from "./key_dir.ts";
import { type InterfaceLocks, lockInterfaces } from "./lock.ts";
import { SetPace } from "./pace.ts";
import type { PeerObservations } from "./observations.ts";
import { type PeerPlan, planCycle, type PlannedInterface, planPurge, type Policy } from "./plan.ts";
import { verifyAndRepair } from "./repair.ts";
import {
  type CycleReport,
  emptyReport,
  type InterfaceReport,
  logCycle,
  logInterface,
  type PurgedPeer,
  recordError,
  recordPurged,
} from "./report.ts";

/** Inputs of one cycle. */
export interface CycleOptions {
  /** Interfaces to read, or `"all"`. */
  interfaces: "all" | readonly string[];
  /** Plan and report, change nothing. */
  dryRun: boolean;
  /** Bytes of argv per `wg set` call. */
  argvBudget: number;
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
}

/** Milliseconds between two repair attempts. */
const REPAIR_RETRY_DELAY_MS = 1000;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs one purge cycle over the configured interfaces.
 *
 * @throws {WgError} when the first read fails or wg's output does not parse (nothing was changed)
 * @throws {ConfigError} when protection cannot be loaded (nothing was changed)
 * @throws {RuntimeError} when the lock directory cannot be used (nothing was changed)
 * @throws {UnsafePathError} when the lock or key directory fails the safe-path rule (nothing was changed)
 */
export async function runCycle(wg: Wg, options: CycleOptions, log: Logger): Promise<CycleReport> {
  const started = performance.now();
  let interfaces = options.interfaces;
  let locks: InterfaceLocks | null = null;
  if (options.lockDir !== null) {
    // Lock before reading, so that what is applied was read under the lock.
    locks = await lockInterfaces(
      options.lockDir,
      interfaces === "all" ? await wg.interfaces() : interfaces,
    );
    for (const name of locks.busy) {
      log.warning("{interface}: another wg-reinstate is purging it; skipped", { interface: name });
    }
    interfaces = locks.held;
  }
  const reports: InterfaceReport[] = [];
  try {
    if (!options.dryRun) {
      // An unsafe key directory stops the cycle here, before any change.
      await removeOrphanedKeyDirs(await safeDir(options.keyDir ?? RUN_DIR, "key-dir"));
    }
    const plan = planCycle(
      interfaces.length === 0 ? [] : await readAndPlan(wg, { ...options, interfaces }),
      interfaces,
      options.observe !== undefined,
    );
    if (plan.refusal !== null) {
      log.error(
        "{refusal}: the clock is behind, so no age can be trusted; purging nothing",
        { refusal: plan.refusal },
      );
    }
    for (const name of plan.missing) {
      const report = emptyReport(name, []);
      recordError(
        log,
        report,
        `WireGuard interface ${name} does not exist (see: wg show interfaces)`,
      );
      reports.push(report);
    }
    for (const { iface, plans } of plan.interfaces) {
      const report = emptyReport(iface.name, plans);
      if (plan.refusal !== null) report.error = `refused: ${plan.refusal}`;
      else await purgeInterface(wg, report, plans, options, log);
      logInterface(log, report, options.dryRun);
      reports.push(report);
    }
  } finally {
    locks?.release();
  }
  const report: CycleReport = {
    dryRun: options.dryRun,
    interfaces: reports,
    busy: locks?.busy ?? [],
    durationMs: Math.round(performance.now() - started),
    ok: reports.every((r) => r.error === null && r.repaired.length === 0),
  };
  logCycle(log, report);
  return report;
}

/**
 * Reads the interfaces and plans every peer, changing nothing. Every
 * interface's policy is loaded before anything is returned, so a config
 * error surfaces before any change is made.
 */
export async function readAndPlan(
  wg: Wg,
  options: Pick<CycleOptions, "interfaces" | "now" | "policyFor" | "observe">,
): Promise<PlannedInterface[]> {
  const snapshot = await wg.show(options.interfaces);
  const now = Math.floor(options.now());
  const monotonic = options.observe?.monotonic();
  const planned: PlannedInterface[] = [];
  for (const iface of snapshot) {
    const policy = await options.policyFor(iface.name);
    const observed = options.observe?.observations.update(iface.name, iface.peers, monotonic!);
    planned.push({ iface, now, plans: planPurge(iface.peers, now, policy, observed) });
  }
  return planned;
}

/** Purges one interface's stale peers, then verifies and repairs; fills in `report`. */
async function purgeInterface(
  wg: Wg,
  report: InterfaceReport,
  plans: readonly PeerPlan[],
  options: CycleOptions,
  log: Logger,
): Promise<void> {
  const decided = new Map<string, PurgedPeer>();
  const stale: WgPeer[] = [];
  for (const { peer, decision } of plans) {
    if (decision.action !== "purge") continue;
    decided.set(peer.publicKey, { publicKey: peer.publicKey, ...decision });
    stale.push(peer);
  }
  if (stale.length === 0) return;
  const record = (peers: readonly WgPeer[]) => {
    for (const peer of peers) {
      const { publicKey, reason, idleSeconds } = decided.get(peer.publicKey)!;
      recordPurged(log, report, { publicKey, reason, idleSeconds }, options.dryRun);
    }
  };
  if (options.dryRun) return record(stale);

  let keys: KeyDir | null = null;
  try {
    if (stale.some((p) => p.presharedKey !== null)) keys = await KeyDir.create(options.keyDir);
    const calls: ApplyOptions = {
      argvBudget: options.argvBudget,
      pace: new SetPace(options.wgTimeoutMs),
      clockMs: options.clockMs,
    };
    // Every preshared-key file is written before the first wg call, so a
    // write failure (disk full) stops here with nothing changed.
    const outcome = await purgePeers(wg, report.name, stale, keys, {
      ...calls,
      stop: options.stop,
    });
    if (outcome.notAttempted > 0) {
      report.stoppedEarly = outcome.notAttempted;
      log.warning("{interface}: stopping on request; {left} stale peers left for the next cycle", {
        interface: report.name,
        left: outcome.notAttempted,
      });
    }
    if (outcome.failure !== null) {
      report.error = outcome.failure.message;
      log.error("{interface}: {error}; verifying every peer it touched", {
        interface: report.name,
        error: outcome.failure.message,
      });
    }
    const bad = await verifyAndRepair(wg, report, outcome.attempted, keys, {
      ...calls,
      sleep: options.sleep ?? realSleep,
      retryDelayMs: REPAIR_RETRY_DELAY_MS,
    }, log);
    record(outcome.attempted.filter((p) => !bad.has(p.publicKey)));
  } catch (error) {
    if (!(error instanceof KeyFileError)) throw error;
    recordError(log, report, `${error.message}; nothing was changed`);
  } finally {
    await keys?.remove().catch((error: Error) => recordError(log, report, error.message));
  }
}
