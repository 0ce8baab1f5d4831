/**
 * After a purge: re-read the interface, check every peer the purge touched,
 * and re-add any that did not come back as it was. A peer is never left
 * removed while a repair can still bring it back. Returns what it found and
 * did; the report and the log lines are made from that (report.ts).
 *
 * @module
 */
import type { KeyDir } from "../wg/key_dir.ts";
import type { WgPeer } from "../wg/dump.ts";
import type { Wg } from "../wg/command.ts";
import { type ApplyOptions, purgePeers } from "./apply.ts";
import { intact, type PurgeProblem, type VerifyFinding, verifyPurged } from "./verify.ts";

/** How repairs are run: the purge's own call options, and the wait between attempts. */
export interface RepairOptions extends Omit<ApplyOptions, "maxPeersPerCall" | "stop"> {
  /** Waits between two repair attempts; injected so tests need not wait. */
  sleep: (ms: number) => Promise<void>;
  /** Milliseconds between repair attempts: a `wg` that just failed gets a moment. */
  retryDelayMs: number;
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
  /** Why the first re-read failed (every attempted peer was then re-added), or `null`. */
  readError: string | null;
  /** What the first re-read found wrong, in purge order: each peer here needed a repair. */
  findings: VerifyFinding[];
  /** The repair attempts, in order; none when nothing needed a repair. */
  attempts: RepairAttempt[];
  /** How each peer of {@link findings} ended, in the same order. */
  repaired: RepairedPeer[];
}

/**
 * Re-reads the interface and checks every attempted peer; re-adds any that is
 * missing or differs (or all of them, when the interface could not be read),
 * then checks again, {@link REPAIR_ATTEMPTS} times at most. Re-adding is the
 * purge itself (remove and add with the configuration read before), so
 * repeating it is safe.
 *
 * @param attempted the peers handed to `wg`, as read before the purge
 * @param keys the key directory the purge used (the same files serve the repair)
 */
export async function verifyAndRepair(
  wg: Wg,
  iface: string,
  attempted: readonly WgPeer[],
  keys: KeyDir | null,
  options: RepairOptions,
): Promise<RepairOutcome> {
  const outcome: RepairOutcome = { readError: null, findings: [], attempts: [], repaired: [] };
  if (attempted.length === 0) return outcome;
  const first = await readPeers(wg, iface);
  outcome.readError = first.error;
  outcome.findings = first.peers === null
    ? attempted.map((expected) => ({ expected, problems: ["unknown"] }))
    : verifyPurged(attempted, first.peers);
  let pending = outcome.findings.map((f) => f.expected);
  // What is wrong with each pending peer, as last read.
  const last = new Map(outcome.findings.map((f) => [f.expected.publicKey, f.problems]));
  for (let attempt = 1; attempt <= REPAIR_ATTEMPTS && pending.length > 0; attempt++) {
    if (attempt > 1) await options.sleep(options.retryDelayMs);
    const repair = await purgePeers(wg, iface, pending, keys, {
      ...options,
      maxPeersPerCall: REPAIR_PEERS_PER_CALL,
    });
    const reread = await readPeers(wg, iface);
    outcome.attempts.push({ failure: repair.failure?.message ?? null, readError: reread.error });
    if (reread.peers === null) continue;
    const now = verifyPurged(pending, reread.peers);
    pending = now.map((f) => f.expected);
    last.clear();
    for (const f of now) last.set(f.expected.publicKey, f.problems);
  }
  const still = new Set(pending.map((p) => p.publicKey));
  outcome.repaired = outcome.findings.map((f) => {
    const publicKey = f.expected.publicKey;
    const restored = !still.has(publicKey);
    const problems = restored ? f.problems : last.get(publicKey) ?? f.problems;
    return { publicKey, problems, restored, intact: !restored && intact(problems) };
  });
  return outcome;
}

async function readPeers(
  wg: Wg,
  iface: string,
): Promise<{ peers: WgPeer[] | null; error: string | null }> {
  try {
    return { peers: (await wg.show([iface]))[0].peers, error: null };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { peers: null, error: `could not re-read to verify: ${message}` };
  }
}
