/**
 * Hands stale peers to {@link Wg.replacePeers} in calls sized by time (the
 * {@link SetPace}), so that a stop request takes effect between two calls
 * within seconds. Before each call, the peers it will hold are written to
 * the purge's journal (journal.ts) and, for a purge, checked against a
 * fresh read, so that a peer someone else changed meanwhile is left as they
 * made it. How a call reaches `wg` (argv, preshared-key files) is the wg
 * layer's business.
 *
 * @module
 */
import { KeyFileError, UnsafePathError, WgError } from "../common/errors.ts";
import type { PeerConfig, Wg } from "../wg/command.ts";
import type { PurgeJournal } from "./journal.ts";
import type { SetPace } from "./pace.ts";
import type { LeftAlone } from "./verify.ts";

/** What happened when purging one interface's peers. */
export interface ApplyOutcome<P extends PeerConfig> {
  /** Peers handed to `wg`, whether or not their call succeeded, in order. */
  attempted: P[];
  /** Of {@link attempted}, those of a call that did not exit 0: their state is unknown. */
  unsettled: P[];
  /** Peers no argv can hold, left as they are (see ReplaceResult.tooLarge). */
  tooLarge: P[];
  /** Peers the re-read before their call found changed by someone else; not handed over. */
  leftAlone: LeftAlone[];
  /** The first failure; later calls were not made. `null` on success. */
  failure: WgError | KeyFileError | UnsafePathError | null;
  /** Peers left alone because a stop was requested between two calls. */
  notAttempted: number;
}

/** A re-read before a call: the peers still to replace, and those someone else changed. */
export interface Recheck<P> {
  keep: P[];
  leftAlone: LeftAlone[];
}

/** How the calls are made. */
export interface ApplyOptions {
  /** Sizes calls by time and sets their limits; shared by the purge and its repairs. */
  pace: SetPace;
  /** At most this many peers per call, whatever the pace allows (repairs stay small). */
  maxPeersPerCall?: number;
  /** When aborted, no further call is started; the running one finishes. */
  stop?: AbortSignal;
  /** A monotonic clock in milliseconds, for measuring calls; tests pass a virtual one. */
  clockMs?: () => number;
}

/**
 * Removes and re-adds `peers` on `iface`. Stops at the first failing call so
 * that nothing more is changed once something is wrong; the caller verifies
 * and repairs every attempted peer either way.
 *
 * @param journal where each call is recorded before it starts, and whose key
 *   directory holds the preshared-key files; required when a peer has a key
 * @param recheck re-reads the peers of a call right before it (a purge; a
 *   repair has none: it restores what a call of ours may have broken); a
 *   failed re-read stops the purge like a failed call, with nothing handed over
 */
export async function purgePeers<P extends PeerConfig>(
  wg: Wg,
  iface: string,
  peers: readonly P[],
  journal: PurgeJournal | null,
  options: ApplyOptions,
  recheck?: (batch: P[]) => Promise<Recheck<P>>,
): Promise<ApplyOutcome<P>> {
  const outcome: ApplyOutcome<P> = {
    attempted: [],
    unsettled: [],
    tooLarge: [],
    leftAlone: [],
    failure: null,
    notAttempted: 0,
  };
  const clock = options.clockMs ?? (() => performance.now());
  let next = 0;
  while (next < peers.length) {
    if (options.stop?.aborted) {
      outcome.notAttempted = peers.length - next;
      break;
    }
    const most = Math.min(options.pace.peersPerCall(), options.maxPeersPerCall ?? Infinity);
    let batch = peers.slice(next, next + most);
    next += batch.length;
    if (recheck !== undefined) {
      try {
        const checked = await recheck(batch);
        batch = checked.keep;
        outcome.leftAlone.push(...checked.leftAlone);
      } catch (error) {
        if (!(error instanceof WgError)) throw error;
        outcome.failure = error;
        break;
      }
      if (batch.length === 0) continue;
    }
    const timeoutMs = options.pace.limitMs(batch.length);
    let call: number | undefined;
    try {
      call = await journal?.begin(batch, Math.round(options.pace.expectedMs(batch.length)));
    } catch (error) {
      if (!(error instanceof KeyFileError || error instanceof UnsafePathError)) throw error;
      outcome.failure = error; // Nothing of this call reached wg.
      break;
    }
    const started = clock();
    const result = await wg.replacePeers(iface, batch, {
      timeoutMs,
      keys: journal?.keys ?? null,
    });
    const pick = (indices: number[]) => indices.map((i) => batch[i]);
    outcome.attempted.push(...pick(result.handed));
    outcome.unsettled.push(...pick(result.unsettled));
    outcome.tooLarge.push(...pick(result.tooLarge));
    if (result.failure !== null) {
      outcome.failure = result.failure;
      break;
    }
    if (call !== undefined) await journal!.done(call);
    options.pace.record(result.handed.length, clock() - started);
  }
  return outcome;
}
