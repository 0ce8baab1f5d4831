/**
 * Runs the `wg set` calls that purge peers: every peer's removal and re-add in
 * the same call, each call as large as argv and the {@link SetPace} allow.
 *
 * @module
 */
import { type KeyFileError, WgError } from "../common/errors.ts";
import type { Wg } from "../wg/run.ts";
import type { KeyDir } from "./key_dir.ts";
import type { SetPace } from "./pace.ts";
import { chunkByArgSize, type PeerConfig, purgeArgs } from "./set_args.ts";

/** What happened when purging one interface's peers. */
export interface ApplyOutcome<P extends PeerConfig> {
  /** Peers handed to a `wg set` call, whether or not it succeeded, in order. */
  attempted: P[];
  /** The first failure; later chunks were not run. `null` on success. */
  failure: WgError | KeyFileError | null;
  /** Peers left alone because a stop was requested between two calls. */
  notAttempted: number;
}

/** How the calls are made. */
export interface ApplyOptions {
  /** Bytes of argv per `wg set` call. */
  argvBudget: number;
  /** Sizes calls by time and sets their limits; shared by the purge and its repairs. */
  pace: SetPace;
  /** At most this many peers per call, whatever the pace allows (repairs stay small). */
  maxPeersPerCall?: number;
  /** When aborted, no further call is started; the running one finishes. */
  stop?: AbortSignal;
  /** A monotonic clock in milliseconds, for measuring calls; tests pass a virtual one. */
  clockMs?: () => number;
}

type Entry<P> = { args: string[]; peer: P };

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
  const entries: Entry<P>[] = [];
  for (const peer of peers) {
    let pskFile: string | null = null;
    if (peer.presharedKey !== null) {
      if (keys === null) throw new Error("internal: preshared key without a key directory");
      pskFile = await keys.write(peer.presharedKey);
    }
    entries.push({ peer, args: purgeArgs(peer, pskFile) });
  }
  let next = 0;
  while (next < entries.length) {
    if (options.stop?.aborted) {
      outcome.notAttempted = entries.length - next;
      break;
    }
    const most = Math.min(options.pace.peersPerCall(), options.maxPeersPerCall ?? Infinity);
    const [chunk] = chunkByArgSize(
      entries.slice(next, next + most),
      (e) => e.args,
      options.argvBudget,
    );
    next += chunk.length;
    // Only a call that reads key files depends on the directory; the others
    // (a repair of peers without a preshared key) go on whatever happened to it.
    if (keys !== null && chunk.some((e) => e.peer.presharedKey !== null)) {
      try {
        await keys.check(); // Right before wg reads the files: still the directory made?
      } catch (error) {
        // The rest is left as it is: whole, with its endpoint, for the next cycle.
        outcome.failure = error as KeyFileError;
        break;
      }
    }
    if (!(await runChunk(wg, iface, chunk, outcome, options))) break;
  }
  return outcome;
}

async function runChunk<P extends PeerConfig>(
  wg: Wg,
  iface: string,
  chunk: Entry<P>[],
  outcome: ApplyOutcome<P>,
  options: ApplyOptions,
): Promise<boolean> {
  const clock = options.clockMs ?? (() => performance.now());
  const started = clock();
  try {
    await wg.set(iface, chunk.flatMap((e) => e.args), {
      timeoutMs: options.pace.limitMs(chunk.length),
    });
    options.pace.record(chunk.length, clock() - started);
    outcome.attempted.push(...chunk.map((e) => e.peer));
    return true;
  } catch (error) {
    // E2BIG means the process never started, so nothing changed: a smaller
    // stack limit than assumed. Split the chunk and go on.
    if (error instanceof WgError && error.kind === "argv-too-long" && chunk.length > 1) {
      const half = Math.ceil(chunk.length / 2);
      return (await runChunk(wg, iface, chunk.slice(0, half), outcome, options)) &&
        (await runChunk(wg, iface, chunk.slice(half), outcome, options));
    }
    outcome.attempted.push(...chunk.map((e) => e.peer));
    outcome.failure = error instanceof WgError
      ? error
      : new WgError("failed", String(error), { cause: error });
    return false;
  }
}
