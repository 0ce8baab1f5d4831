/**
 * After a purge: re-read the interface, check every peer the purge touched,
 * and re-add any that did not come back as it was. A peer is never left
 * removed while a repair can still bring it back.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { shortKey } from "../wg/constants.ts";
import type { WgPeer } from "../wg/dump.ts";
import type { Wg } from "../wg/run.ts";
import { type ApplyOptions, purgePeers } from "./apply.ts";
import type { KeyDir } from "./key_dir.ts";
import { type InterfaceReport, recordError } from "./report.ts";
import { type PurgeProblem, type VerifyFinding, verifyPurged } from "./verify.ts";

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

/**
 * Re-reads the interface and checks every attempted peer; re-adds any that is
 * missing or differs (or all of them, when the interface could not be read),
 * then checks again, {@link REPAIR_ATTEMPTS} times at most. Re-adding is the
 * purge itself (remove and add with the configuration read before), so
 * repeating it is safe. Records each repaired peer in the report.
 *
 * @param attempted the peers handed to `wg set`, as read before the purge
 * @param keys the key directory the purge used (the same files serve the repair)
 * @returns the keys of the peers that needed repair
 */
export async function verifyAndRepair(
  wg: Wg,
  report: InterfaceReport,
  attempted: readonly WgPeer[],
  keys: KeyDir | null,
  options: RepairOptions,
  log: Logger,
): Promise<Set<string>> {
  if (attempted.length === 0) return new Set();
  const name = report.name;
  const after = await readPeers(wg, report, log);
  const findings: VerifyFinding[] = after === null
    ? attempted.map((expected) => ({ expected, problems: ["unknown"] }))
    : verifyPurged(attempted, after);
  for (const f of findings) {
    const fields = {
      interface: name,
      peer: shortKey(f.expected.publicKey),
      problems: f.problems.join(", "),
    };
    // A wg set that failed before changing anything leaves the peer as it
    // was, endpoint and all: nothing to restore, only a purge to do again.
    if (intact(f.problems)) {
      log.warning(
        "peer {peer} on {interface} was not purged (it keeps its endpoint); again",
        fields,
      );
    } else {
      log.error(
        "peer {peer} on {interface} did not come back as it was ({problems}); re-adding it",
        fields,
      );
    }
  }
  let pending = findings.map((f) => f.expected);
  // What is wrong with each pending peer, as last read.
  let last = new Map(findings.map((f) => [f.expected.publicKey, f.problems]));
  for (let attempt = 1; attempt <= REPAIR_ATTEMPTS && pending.length > 0; attempt++) {
    if (attempt > 1) await options.sleep(options.retryDelayMs);
    const repair = await purgePeers(wg, name, pending, keys, {
      ...options,
      maxPeersPerCall: REPAIR_PEERS_PER_CALL,
    });
    if (repair.failure !== null) report.error ??= repair.failure.message;
    const reread = await readPeers(wg, report, log);
    if (reread !== null) {
      const now = verifyPurged(pending, reread);
      pending = now.map((f) => f.expected);
      last = new Map(now.map((f) => [f.expected.publicKey, f.problems]));
    }
  }
  const still = new Set(pending.map((p) => p.publicKey));
  for (const f of findings) {
    const key = f.expected.publicKey;
    const restored = !still.has(key);
    const problems = restored ? f.problems : last.get(key) ?? f.problems;
    report.repaired.push({ publicKey: key, problems, restored });
    const fields = { interface: name, peer: shortKey(key), problems: problems.join(", ") };
    if (restored) log.warning("peer {peer} on {interface} restored", fields);
    else if (intact(problems)) {
      log.warning(
        "peer {peer} on {interface} is as it was, endpoint included: wg set failed before " +
          "changing it; the next cycle purges it",
        fields,
      );
    } else log.error("peer {peer} on {interface} could NOT be restored ({problems})", fields);
  }
  return new Set(findings.map((f) => f.expected.publicKey));
}

/** Whether the only problem is a kept endpoint: the peer's configuration is whole. */
export function intact(problems: readonly PurgeProblem[]): boolean {
  return problems.length > 0 && problems.every((p) => p === "endpoint-kept");
}

async function readPeers(
  wg: Wg,
  report: InterfaceReport,
  log: Logger,
): Promise<WgPeer[] | null> {
  try {
    return (await wg.show([report.name]))[0].peers;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    recordError(log, report, `could not re-read to verify: ${message}`);
    return null;
  }
}
