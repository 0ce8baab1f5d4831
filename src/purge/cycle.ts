/**
 * One purge cycle: read, plan, apply, verify, repair. The CLI's `run`, the
 * daemon loop and the OpenWrt service all call {@link runCycle}.
 *
 * Nothing is changed until every interface has been read and parsed and every
 * interface's protection has been loaded, so a bad dump or a bad config file
 * stops the cycle with no change at all.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { SecretFileError } from "../errors.ts";
import { shortKey } from "../wg/keys.ts";
import type { WgInterface, WgPeer } from "../wg/dump.ts";
import type { Wg } from "../wg/run.ts";
import { reinstatePeers } from "./apply.ts";
import {
  countKeptByReason,
  type KeepReason,
  type PeerPlan,
  planPurge,
  type Policy,
} from "./plan.ts";
import { type InterfaceLocks, lockInterfaces } from "./lock.ts";
import type { PeerObservations } from "./observations.ts";
import { removeOrphanedSecretDirs, SecretDir } from "./secret_dir.ts";
import { type ReinstateProblem, type VerifyFinding, verifyReinstated } from "./verify.ts";

/** Inputs of one cycle. */
export interface CycleOptions {
  /** Interfaces to read, or `"all"`. */
  interfaces: "all" | readonly string[];
  /** Plan and report, change nothing. */
  dryRun: boolean;
  /** Bytes of argv per `wg set` call. */
  argvBudget: number;
  /** The wall clock in unix seconds; injected so tests can age real handshakes. */
  now: () => number;
  /** Loads the protection (exclusions, configured endpoints) of one interface. */
  policyFor: (iface: string) => Promise<Policy>;
  /** Parent of the private preshared-key directories; default /var/run/wg-reinstate. */
  tempDir?: string;
  /** Directory of per-interface lock files; null: no locking (status, tests). */
  lockDir: string | null;
  /**
   * The daemon's memory of peer states, with its monotonic clock (seconds).
   * Absent for a one-shot `run`, which then refuses to purge at all when a
   * handshake lies in the future (the wall clock is behind).
   */
  observe?: { observations: PeerObservations; monotonic: () => number };
}

/** A peer that was (or, in a dry run, would be) purged. */
export interface PurgedPeer {
  publicKey: string;
  /** `stale`, or `unconfirmed` for an endpoint without a completed handshake. */
  reason: string;
  /** Seconds since the handshake; for `unconfirmed`, seconds the daemon watched it. */
  idleSeconds: number;
}

/** A purged peer that had to be repaired, and whether the repair held. */
export interface RepairedPeer {
  publicKey: string;
  problems: ReinstateProblem[];
  restored: boolean;
}

/** What one cycle did to one interface. */
export interface InterfaceReport {
  name: string;
  checked: number;
  purged: PurgedPeer[];
  kept: Record<KeepReason, number>;
  repaired: RepairedPeer[];
  /** The first error on this interface, already redacted; `null` when none. */
  error: string | null;
}

/** What one cycle did. */
export interface CycleReport {
  dryRun: boolean;
  interfaces: InterfaceReport[];
  /** Interfaces skipped because another wg-reinstate held their lock. */
  busy: string[];
  durationMs: number;
  /** False when any `wg` call failed, any peer needed repair, or the purge was refused. */
  ok: boolean;
}

/**
 * Runs one purge cycle over the configured interfaces.
 *
 * @throws {WgError} when the first read fails (nothing was changed)
 * @throws {DumpParseError} when wg's output does not parse (nothing was changed)
 * @throws {ConfigError} when protection cannot be loaded (nothing was changed)
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
    if (!options.dryRun) await removeOrphanedSecretDirs(options.tempDir);
    const planned = interfaces.length === 0
      ? []
      : await readAndPlan(wg, { ...options, interfaces });
    const future = options.observe === undefined &&
      planned.some((p) => p.plans.some((x) => x.decision.reason === "handshake-in-future"));
    if (future) {
      log.error(
        "a latest handshake lies in the future: the clock is behind, so no age can be trusted; purging nothing",
      );
    }
    const read = new Set(planned.map((p) => p.iface.name));
    for (const name of interfaces === "all" ? [] : interfaces.filter((n) => !read.has(n))) {
      const error = `WireGuard interface ${name} does not exist (see: wg show interfaces)`;
      log.error("{interface}: {error}", { interface: name, error });
      reports.push({ ...emptyReport(name, []), error });
    }
    for (const { iface, plans } of planned) {
      const report = future
        ? { ...emptyReport(iface.name, plans), error: "refused: a handshake lies in the future" }
        : await purgeInterface(wg, iface.name, plans, options, log);
      log.info(
        "{interface}: {checked} peers checked, {purged} {verb}, kept {kept}",
        {
          interface: report.name,
          checked: report.checked,
          purged: report.purged.length,
          verb: options.dryRun ? "would be purged" : "purged",
          kept: formatKept(report.kept),
        },
      );
      reports.push(report);
    }
  } finally {
    locks?.release();
  }
  const durationMs = Math.round(performance.now() - started);
  const ok = reports.every((r) => r.error === null && r.repaired.length === 0);
  log.info("cycle {result} in {durationMs} ms: {checked} peers checked, {purged} {verb}", {
    result: ok ? "done" : "FAILED",
    durationMs,
    checked: reports.reduce((n, r) => n + r.checked, 0),
    purged: reports.reduce((n, r) => n + r.purged.length, 0),
    verb: options.dryRun ? "would be purged" : "purged",
  });
  return {
    dryRun: options.dryRun,
    interfaces: reports,
    busy: locks?.busy ?? [],
    durationMs,
    ok,
  };
}

/** One interface as read, with a decision for each of its peers. */
export interface PlannedInterface {
  iface: WgInterface;
  /** The wall-clock time the plan was made for, in unix seconds. */
  now: number;
  plans: PeerPlan[];
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

function formatKept(kept: Record<KeepReason, number>): string {
  const parts = Object.entries(kept).filter(([, n]) => n > 0).map(([r, n]) => `${r}=${n}`);
  return parts.length > 0 ? parts.join(" ") : "none";
}

function emptyReport(name: string, plans: readonly PeerPlan[]): InterfaceReport {
  return {
    name,
    checked: plans.length,
    purged: [],
    kept: countKeptByReason(plans),
    repaired: [],
    error: null,
  };
}

async function purgeInterface(
  wg: Wg,
  name: string,
  plans: PeerPlan[],
  options: CycleOptions,
  log: Logger,
): Promise<InterfaceReport> {
  const report = emptyReport(name, plans);
  const decisions = new Map<string, { reason: string; idleSeconds: number }>();
  for (const { peer, decision } of plans) {
    if (decision.action === "purge") decisions.set(peer.publicKey, decision);
  }
  const stale = plans.filter((p) => p.decision.action === "purge").map((p) => p.peer);
  if (stale.length === 0) return report;
  // One log line and one report entry per purged (or, dry, purgeable) peer.
  const recordPurged = (peers: readonly WgPeer[], what: "purged" | "would purge") => {
    for (const peer of peers) {
      const { reason, idleSeconds } = decisions.get(peer.publicKey)!;
      const why = reason === "unconfirmed"
        ? "endpoint from an unconfirmed initiation, seen {idleSeconds} s"
        : "idle {idleSeconds} s";
      log.info(`${what} peer {peer} on {interface}, ${why}`, {
        interface: name,
        peer: shortKey(peer.publicKey),
        idleSeconds,
      });
      report.purged.push({ publicKey: peer.publicKey, reason, idleSeconds });
    }
  };
  if (options.dryRun) {
    recordPurged(stale, "would purge");
    return report;
  }

  let secrets: SecretDir | null = null;
  try {
    if (stale.some((p) => p.presharedKey !== null)) {
      secrets = await SecretDir.create(options.tempDir);
    }
    // Every preshared-key file is written before the first wg call, so a
    // write failure (disk full) stops here with nothing changed.
    const outcome = await reinstatePeers(wg, name, stale, secrets, options.argvBudget);
    if (outcome.failure !== null) {
      report.error = outcome.failure.message;
      log.error("{interface}: {error}; verifying every peer it touched", {
        interface: name,
        error: outcome.failure.message,
      });
    }
    const attempted = outcome.attempted;
    const bad = await verifyAndRepair(wg, name, attempted, secrets, options, log, report);
    recordPurged(attempted.filter((p) => !bad.has(p.publicKey)), "purged");
  } catch (error) {
    if (!(error instanceof SecretFileError)) throw error;
    report.error = `${error.message}; nothing was changed`;
    log.error("{interface}: {error}", { interface: name, error: report.error });
  } finally {
    await secrets?.remove().catch((error: Error) => {
      report.error ??= error.message;
      log.error("{interface}: {error}", { interface: name, error: error.message });
    });
  }
  return report;
}

/**
 * Re-reads the interface and checks every attempted peer; re-adds any that is
 * missing or differs (or all of them, when the interface could not be read),
 * then checks again, twice at most. Re-adding is the purge itself (remove and
 * add with the configuration read before), so repeating it is safe. Returns
 * the keys that needed repair.
 */
async function verifyAndRepair(
  wg: Wg,
  name: string,
  attempted: WgPeer[],
  secrets: SecretDir | null,
  options: CycleOptions,
  log: Logger,
  report: InterfaceReport,
): Promise<Set<string>> {
  if (attempted.length === 0) return new Set();
  const after = await readPeers(wg, name, log, report);
  const findings: VerifyFinding[] = after === null
    ? attempted.map((expected) => ({ expected, problems: ["unknown"] }))
    : verifyReinstated(attempted, after);
  for (const f of findings) {
    log.error("peer {peer} on {interface} did not come back as it was ({problems}); re-adding it", {
      interface: name,
      peer: shortKey(f.expected.publicKey),
      problems: f.problems.join(", "),
    });
  }
  let pending = findings.map((f) => f.expected);
  for (let attempt = 1; attempt <= 2 && pending.length > 0; attempt++) {
    if (attempt > 1) await new Promise((r) => setTimeout(r, 1000));
    const repair = await reinstatePeers(wg, name, pending, secrets, options.argvBudget);
    if (repair.failure !== null) report.error ??= repair.failure.message;
    const reread = await readPeers(wg, name, log, report);
    if (reread !== null) pending = verifyReinstated(pending, reread).map((f) => f.expected);
  }
  const still = new Set(pending.map((p) => p.publicKey));
  for (const f of findings) {
    const restored = !still.has(f.expected.publicKey);
    report.repaired.push({ publicKey: f.expected.publicKey, problems: f.problems, restored });
    if (restored) {
      log.warning("peer {peer} on {interface} restored", {
        interface: name,
        peer: shortKey(f.expected.publicKey),
      });
    } else {
      log.error("peer {peer} on {interface} could NOT be restored", {
        interface: name,
        peer: shortKey(f.expected.publicKey),
      });
    }
  }
  return new Set(findings.map((f) => f.expected.publicKey));
}

async function readPeers(
  wg: Wg,
  name: string,
  log: Logger,
  report: InterfaceReport,
): Promise<WgPeer[] | null> {
  try {
    return (await wg.show([name]))[0].peers;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    report.error ??= message;
    log.error("{interface}: could not re-read to verify: {error}", {
      interface: name,
      error: message,
    });
    return null;
  }
}
