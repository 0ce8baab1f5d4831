/**
 * After a purge: re-read the interface, check every peer the purge touched,
 * and re-add any that a call of ours may have left missing or changed. A
 * peer is never left removed while a repair can still bring it back, and a
 * peer someone else removed or changed is left as they made it. Returns
 * what it found and did; the report and the log lines are made from that
 * (report.ts).
 *
 * @module
 */
import type { WgPeer } from "../wg/dump.ts";
import { showPeers, type Wg } from "../wg/command.ts";
import { type ApplyOptions, purgePeers } from "./apply.ts";
import type { PurgeJournal } from "./journal.ts";
import {
  intact,
  type LeftAlone,
  type PurgeProblem,
  type VerifyFinding,
  verifyPurged,
} from "./verify.ts";

/** How repairs are run: the purge's own call options, and the wait between attempts. */
export interface RepairOptions extends Omit<ApplyOptions, "maxPeersPerCall" | "stop"> {
  /** Waits between two repair attempts; injected so tests need not wait. */
  sleep: (ms: number) => Promise<void>;
  /** Milliseconds between repair attempts: a `wg` that just failed gets a moment. */
  retryDelayMs: number;
  /**
   * Opens a fresh key directory and journal for the repairs. Never the
   * purge's own: the failure being repaired may be that it was replaced.
   */
  reopen: () => Promise<PurgeJournal>;
}

/** Repair attempts after the purge: the first at once, the second after the delay. */
export const REPAIR_ATTEMPTS = 2;

/**
 * Peers per repair call. A repair follows a failure, often a `wg` that was
 * too slow: small calls each finish quickly, and one that fails leaves little
 * undone. A stop request does not cut repairs short.
 */
export const REPAIR_PEERS_PER_CALL = 16;

/** A purged peer that had to be repaired, and how it ended. */
export interface RepairedPeer {
  publicKey: string;
  /** What was wrong: as first found when it was restored, else as last read. */
  problems: PurgeProblem[];
  restored: boolean;
  /**
   * Not restored, but whole: only its endpoint was kept, as when every
   * `wg set` failed before changing it. Nothing was lost; the next cycle purges it.
   */
  intact: boolean;
}

/** One repair attempt: why its call failed and why the re-read after it failed, if they did. */
export interface RepairAttempt {
  failure: string | null;
  readError: string | null;
}

/** What verifying and repairing one interface's purged peers found and did. */
export interface RepairOutcome {
  /** Why the first re-read failed (every unsettled peer was then re-added), or `null`. */
  readError: string | null;
  /** What the first re-read found wrong, in purge order: each peer here needed a repair. */
  findings: VerifyFinding[];
  /** Peers someone else removed or changed after their call: left as they made them. */
  leftAlone: LeftAlone[];
  /** The repair attempts, in order; none when nothing needed a repair. */
  attempts: RepairAttempt[];
  /** How each peer of {@link findings} ended, in the same order. */
  repaired: RepairedPeer[];
}

/**
 * Re-reads the interface and checks every attempted peer; re-adds any that
 * a call of ours may have broken (or, when the interface could not be read,
 * every peer of a call that did not exit 0), then checks again,
 * {@link REPAIR_ATTEMPTS} times at most. Re-adding is the purge itself
 * (remove and add with the configuration read before), so repeating it is
 * safe.
 *
 * @param attempted the peers handed to `wg`, as read before the purge
 * @param unsettled public keys of the attempted peers whose call did not exit 0
 */
export async function verifyAndRepair(
  wg: Wg,
  iface: string,
  attempted: readonly WgPeer[],
  unsettled: ReadonlySet<string>,
  options: RepairOptions,
): Promise<RepairOutcome> {
  const outcome: RepairOutcome = {
    readError: null,
    findings: [],
    leftAlone: [],
    attempts: [],
    repaired: [],
  };
  if (attempted.length === 0) return outcome;
  const keys = new Set(attempted.map((p) => p.publicKey));
  const first = await readPeers(wg, iface, keys);
  outcome.readError = first.error;
  if (first.peers === null) {
    // A call that exited 0 left its peers whole; only the others may need it.
    outcome.findings = attempted.filter((p) => unsettled.has(p.publicKey))
      .map((expected) => ({ expected, problems: ["unknown"] }));
  } else {
    ({ findings: outcome.findings, leftAlone: outcome.leftAlone } = verifyPurged(
      attempted,
      first.peers,
      unsettled,
    ));
  }
  let pending = outcome.findings.map((f) => f.expected);
  // What is wrong with each pending peer, as last read.
  const last = new Map(outcome.findings.map((f) => [f.expected.publicKey, f.problems]));
  let journal: PurgeJournal | null = null;
  try {
    for (let attempt = 1; attempt <= REPAIR_ATTEMPTS && pending.length > 0; attempt++) {
      if (attempt > 1) await options.sleep(options.retryDelayMs);
      let opened: string | null = null;
      journal ??= await options.reopen().catch((error: Error) => {
        opened = `cannot prepare the repair: ${error.message}`;
        return null;
      });
      // Without a key directory, the peers without a preshared key can still go.
      const repairable = journal !== null ? pending : pending.filter((p) => !p.presharedKey);
      const repair = await purgePeers(wg, iface, repairable, journal, {
        ...options,
        maxPeersPerCall: REPAIR_PEERS_PER_CALL,
      });
      const reread = await readPeers(wg, iface, keys);
      outcome.attempts.push({
        failure: repair.failure?.message ?? opened,
        readError: reread.error,
      });
      if (reread.peers === null) continue;
      const settled = new Set(repair.attempted.map((p) => p.publicKey));
      for (const p of repair.unsettled) settled.delete(p.publicKey);
      const still = new Set(pending.map((p) => p.publicKey).filter((k) => !settled.has(k)));
      const now = verifyPurged(pending, reread.peers, still);
      outcome.leftAlone.push(...now.leftAlone);
      pending = now.findings.map((f) => f.expected);
      last.clear();
      for (const f of now.findings) last.set(f.expected.publicKey, f.problems);
    }
  } finally {
    await (journal as PurgeJournal | null)?.remove().catch(() => {});
  }
  // A peer no longer pending was restored, or is someone else's now (leftAlone).
  const still = new Set(pending.map((p) => p.publicKey));
  outcome.repaired = outcome.findings.map((f) => {
    const publicKey = f.expected.publicKey;
    const restored = !still.has(publicKey);
    const problems = restored ? f.problems : last.get(publicKey) ?? f.problems;
    return { publicKey, problems, restored, intact: !restored && intact(problems) };
  });
  return outcome;
}

/** Reads the peers in `keys`, or says why that failed. */
async function readPeers(
  wg: Wg,
  iface: string,
  keys: ReadonlySet<string>,
): Promise<{ peers: WgPeer[] | null; error: string | null }> {
  try {
    return { peers: (await showPeers(wg, iface, keys)).peers, error: null };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { peers: null, error: `could not re-read to verify: ${message}` };
  }
}
