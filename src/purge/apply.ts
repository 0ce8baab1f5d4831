/**
 * Hands stale peers to {@link Wg.replacePeers} in calls sized by time (the
 * {@link SetPace}), so that a stop request takes effect between two calls
 * within seconds. How a call reaches `wg` (argv, preshared-key files) is the
 * wg layer's business.
 *
 * @module
 */
import type { KeyFileError, WgError } from "../common/errors.ts";
import type { KeyDir } from "../wg/key_dir.ts";
import type { PeerConfig, Wg } from "../wg/command.ts";
import type { SetPace } from "./pace.ts";

/** What happened when purging one interface's peers. */
export interface ApplyOutcome<P extends PeerConfig> {
  /** Peers handed to `wg`, whether or not their call succeeded, in order. */
  attempted: P[];
  /** The first failure; later calls were not made. `null` on success. */
  failure: WgError | KeyFileError | null;
  /** Peers left alone because a stop was requested between two calls. */
  notAttempted: number;
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
 * @param keys where preshared keys are written for `wg` to read; required when a peer has one
 */
export async function purgePeers<P extends PeerConfig>(
  wg: Wg,
  iface: string,
  peers: readonly P[],
  keys: KeyDir | null,
  options: ApplyOptions,
): Promise<ApplyOutcome<P>> {
  const outcome: ApplyOutcome<P> = { attempted: [], failure: null, notAttempted: 0 };
  const clock = options.clockMs ?? (() => performance.now());
  let next = 0;
  while (next < peers.length) {
    if (options.stop?.aborted) {
      outcome.notAttempted = peers.length - next;
      break;
    }
    const most = Math.min(options.pace.peersPerCall(), options.maxPeersPerCall ?? Infinity);
    const batch = peers.slice(next, next + most);
    next += batch.length;
    const started = clock();
    const { handed, failure } = await wg.replacePeers(iface, batch, {
      timeoutMs: options.pace.limitMs(batch.length),
      keys,
    });
    outcome.attempted.push(...batch.slice(0, handed));
    if (failure !== null) {
      outcome.failure = failure;
      break;
    }
    options.pace.record(batch.length, clock() - started);
  }
  return outcome;
}
