/**
 * Recovery from a purge that was killed: at the start of a cycle, before its
 * own purge, each key directory whose process died is read back. Its
 * journal (journal.ts) lists the peers of the calls that did not finish;
 * each is put back as it was read (re-added), unless it is whole and alive,
 * or someone else has changed it since (see {@link planReplay}).
 *
 * A journal is replayed only into the interface it was written for (same
 * name, public key and port), under that interface's lock, and only once a
 * `wg` call the dead process may have left running has had time to end.
 *
 * @module
 */
import { KeyFileError, ParseError, UnsafePathError, WgError } from "../common/errors.ts";
import type { DirChecks } from "../common/dir_checks.ts";
import type { SafeDir } from "../common/safe_path.ts";
import { showPeers, type Wg } from "../wg/command.ts";
import type { WgPeer } from "../wg/dump.ts";
import { type OrphanedKeyDir, orphanedKeyDirs } from "../wg/key_dir.ts";
import { purgePeers } from "./apply.ts";
import {
  type InterfaceIdentity,
  type JournalPeer,
  parseJournal,
  PurgeJournal,
  type ReadJournal,
} from "./journal.ts";
import { lockInterfaces } from "./lock.ts";
import { type RepairOptions, type RepairOutcome, verifyAndRepair } from "./repair.ts";
import { type LeftAlone, matchConfig } from "./verify.ts";

/** What recovering one dead purge did. */
export interface RecoveryOutcome {
  /** The interface the journal was written for. */
  iface: string;
  /** Why the journal was set aside without a replay, or `null` when it was replayed. */
  dropped: string | null;
  /** Peers re-added as they were. */
  replayed: number;
  /** Peers someone else changed since the purge was killed: left as they are. */
  leftAlone: LeftAlone[];
  /** The check of the replayed peers, and its repairs; `null` when none were replayed. */
  repair: RepairOutcome | null;
  /** Why the replay failed; the journal is then kept for the next start. */
  failure: string | null;
}

/** A replay decided: the peers to put back, and those someone else changed. */
export interface ReplayPlan {
  replay: WgPeer[];
  leftAlone: LeftAlone[];
}

/**
 * Decides, without side effects, which peers of a dead purge to put back.
 * For each peer a cut call may have touched:
 * - missing: re-added (the cut call may have removed it);
 * - its configuration partly gone (allowed IPs dropped, no key, no
 *   keepalive: a call cut between two netlink messages) or a value
 *   half-written (a wireguard-go stream cut mid-line): re-added;
 * - whole, with no completed handshake since: re-added, since wireguard-go
 *   never starts a peer whose `set` stream was cut, though it looks whole;
 * - whole with a handshake: left alone (it was never reached, or is alive);
 * - changed in a way no cut call can (a new key, new allowed IPs): someone
 *   else's change, left alone.
 *
 * @param unsettled the journal's peers, as they were read before the purge
 * @param now the interface's peers as read now
 */
export function planReplay(unsettled: readonly WgPeer[], now: readonly WgPeer[]): ReplayPlan {
  const byKey = new Map(now.map((p) => [p.publicKey, p]));
  const plan: ReplayPlan = { replay: [], leftAlone: [] };
  for (const expected of unsettled) {
    const peer = byKey.get(expected.publicKey);
    const match = peer === undefined ? null : matchConfig(expected, peer, { cut: true });
    if (match?.kind === "different") {
      plan.leftAlone.push({ publicKey: expected.publicKey, change: "changed" });
    } else if (match === null || match.kind === "damaged" || peer!.latestHandshake === 0) {
      plan.replay.push(expected);
    }
  }
  return plan;
}

/** How recovery runs: where the journals are, and how its calls are made. */
export interface RecoveryOptions {
  /** The parent of the key directories, checked by this cycle. */
  keyDir: SafeDir;
  /** The parent's path as configured (fresh key directories are made there). */
  keyDirPath: string | undefined;
  dirs: DirChecks;
  /** Directory of per-interface lock files; null: no locking. */
  lockDir: string | null;
  /** The wall clock in milliseconds; default Date.now. */
  nowMs?: () => number;
  /** The repair options of the cycle (pace, clock, sleep). */
  repair: Omit<RepairOptions, "reopen">;
}

/** Replays the journals of dead purges; returns what each did. */
export async function recoverInterrupted(
  wg: Wg,
  options: RecoveryOptions,
): Promise<RecoveryOutcome[]> {
  const outcomes: RecoveryOutcome[] = [];
  for (const dir of await orphanedKeyDirs(options.keyDir)) {
    let journal;
    try {
      journal = dir.journal === null ? null : parseJournal(dir.journal);
    } catch (error) {
      dir.release(); // Kept, for someone to look at: it is not ours to guess.
      if (!(error instanceof ParseError)) throw error;
      outcomes.push(
        failed("(unknown)", `the journal of ${dir.name} is unreadable (${error.message})`),
      );
      continue;
    }
    // No call recorded: its purge was killed before it changed anything.
    if (journal === null) {
      await dir.remove().catch(() => {});
      continue;
    }
    const outcome = await recoverOne(wg, dir, journal, options);
    if (outcome !== null) outcomes.push(outcome);
  }
  return outcomes;
}

async function recoverOne(
  wg: Wg,
  dir: OrphanedKeyDir,
  journal: ReadJournal,
  options: RecoveryOptions,
): Promise<RecoveryOutcome | null> {
  const name = journal.iface.name;
  const locks = options.lockDir === null
    ? null
    : await lockInterfaces(options.lockDir, [name], options.dirs);
  if (locks !== null && locks.held.length === 0) {
    dir.release(); // Another wg-reinstate holds the interface; a later start replays.
    return null;
  }
  let removeDir = false;
  try {
    // `wg` runs in a session of its own, so one may outlive the process that
    // was killed. (The program may not read /proc to look for it: its Deno
    // permissions deny /proc.)
    const wait = leftoverWaitMs(
      dir.journalWrittenMs,
      options.nowMs?.() ?? Date.now(),
      journal.lastExpectedMs,
    );
    if (wait > 0) await options.repair.sleep(wait);
    let read;
    try {
      read = await showPeers(wg, name, new Set(journal.unsettled.map((p) => p.publicKey)));
    } catch (error) {
      if (!(error instanceof WgError)) throw error;
      if (error.kind !== "no-interface") return failed(name, error.message);
      removeDir = true;
      return dropped(name, "the interface no longer exists");
    }
    const identity: InterfaceIdentity = {
      name,
      publicKey: read.publicKey,
      listenPort: read.listenPort,
    };
    if (!sameInterface(journal.iface, identity)) {
      removeDir = true;
      return dropped(name, "the interface was created anew since");
    }
    let recorded: WgPeer[];
    try {
      recorded = await recordedPeers(journal.unsettled, dir);
    } catch (error) {
      if (!(error instanceof KeyFileError)) throw error;
      return failed(name, error.message);
    }
    const plan = planReplay(recorded, read.peers);
    const outcome: RecoveryOutcome = {
      iface: name,
      dropped: null,
      replayed: 0,
      leftAlone: plan.leftAlone,
      repair: null,
      failure: null,
    };
    if (plan.replay.length === 0) {
      removeDir = true;
      return outcome;
    }
    const peers = plan.replay;
    outcome.replayed = peers.length;
    const open = () => PurgeJournal.open(options.keyDirPath, options.dirs, identity);
    let replay: PurgeJournal | null = null;
    try {
      replay = await open();
      // Recorded as one call that never finishes, so that a kill during the
      // replay leaves every peer in the new journal before the old one goes.
      await replay.begin(peers, 0);
      await dir.remove();
      const applied = await purgePeers(wg, name, peers, replay, options.repair);
      // Every peer is still to be put back, except those of a call that exited 0.
      const settled = new Set(applied.attempted.map((p) => p.publicKey));
      for (const p of applied.unsettled) settled.delete(p.publicKey);
      const unsettled = new Set(peers.map((p) => p.publicKey).filter((k) => !settled.has(k)));
      outcome.repair = await verifyAndRepair(wg, name, peers, unsettled, {
        ...options.repair,
        reopen: open,
      });
      if (applied.failure !== null) outcome.failure = applied.failure.message;
    } catch (error) {
      if (!(error instanceof KeyFileError || error instanceof UnsafePathError)) throw error;
      outcome.failure = error.message;
    } finally {
      await replay?.remove().catch(() => {});
    }
    return outcome;
  } finally {
    if (removeDir) await dir.remove().catch(() => {});
    else dir.release();
    locks?.release();
  }
}

/**
 * The journal's peers as they were read before the purge, preshared keys
 * read back from the dead directory.
 *
 * @throws {KeyFileError} when a preshared-key file is gone
 */
async function recordedPeers(
  entries: readonly JournalPeer[],
  dir: OrphanedKeyDir,
): Promise<WgPeer[]> {
  const peers: WgPeer[] = [];
  for (const e of entries) {
    const presharedKey = e.psk === null ? null : await dir.secret(e.psk);
    if (e.psk !== null && presharedKey === null) {
      throw new KeyFileError(`a preshared-key file of ${dir.name} is gone; the journal is kept`);
    }
    peers.push({
      publicKey: e.publicKey,
      allowedIps: e.allowedIps,
      presharedKey,
      persistentKeepalive: e.keepalive,
      endpoint: null,
      latestHandshake: 0,
      rxBytes: 0,
      txBytes: 0,
    });
  }
  return peers;
}

function sameInterface(was: InterfaceIdentity, now: InterfaceIdentity): boolean {
  return was.publicKey === now.publicKey && was.listenPort === now.listenPort;
}

/**
 * How long to give a `wg` call that a killed purge may have left running:
 * until the journal's last write (made right before the call started) plus
 * twice the call's expected duration and a second; never more than that
 * from now, whatever the wall clock did meanwhile. A call slower than that
 * and the replay then run side by side: both remove and re-add the same
 * peers with the same configuration (wireguard-go applies one `set` at a
 * time; the kernel one netlink message at a time), so either order leaves
 * the peer whole.
 */
export function leftoverWaitMs(
  writtenMs: number | null,
  nowMs: number,
  expectedMs: number,
): number {
  const whole = 2 * expectedMs + 1000;
  if (writtenMs === null) return whole;
  return Math.max(0, Math.min(whole, writtenMs + whole - nowMs));
}

function dropped(iface: string, why: string): RecoveryOutcome {
  return { iface, dropped: why, replayed: 0, leftAlone: [], repair: null, failure: null };
}

function failed(iface: string, why: string): RecoveryOutcome {
  return { iface, dropped: null, replayed: 0, leftAlone: [], repair: null, failure: why };
}
