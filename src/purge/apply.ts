/**
 * Runs the `wg set` calls that purge peers: every peer's removal and re-add in
 * the same call, all peers of an interface in as few calls as argv allows.
 *
 * @module
 */
import { WgError } from "../common/errors.ts";
import type { Wg } from "../wg/run.ts";
import type { KeyDir } from "./key_dir.ts";
import { chunkByArgSize, type PeerConfig, purgeArgs } from "./set_args.ts";

/** What happened when purging one interface's peers. */
export interface ApplyOutcome<P extends PeerConfig> {
  /** Peers handed to a `wg set` call, whether or not it succeeded, in order. */
  attempted: P[];
  /** The first failure; later chunks were not run. `null` on success. */
  failure: WgError | null;
}

/**
 * Removes and re-adds `peers` on `iface`. Stops at the first failing call so
 * that nothing more is changed once something is wrong; the caller verifies
 * and repairs every attempted peer either way.
 *
 * @param keys where preshared keys are written for `wg` to read; required when a peer has one
 * @param argvBudget bytes of arguments per `wg set` call
 */
export async function purgePeers<P extends PeerConfig>(
  wg: Wg,
  iface: string,
  peers: readonly P[],
  keys: KeyDir | null,
  argvBudget: number,
): Promise<ApplyOutcome<P>> {
  const outcome: ApplyOutcome<P> = { attempted: [], failure: null };
  const entries: Entry<P>[] = [];
  for (const peer of peers) {
    let pskFile: string | null = null;
    if (peer.presharedKey !== null) {
      if (keys === null) throw new Error("internal: preshared key without a key directory");
      pskFile = await keys.write(peer.presharedKey);
    }
    entries.push({ peer, args: purgeArgs(peer, pskFile) });
  }
  for (const chunk of chunkByArgSize(entries, (e) => e.args, argvBudget)) {
    if (!(await runChunk(wg, iface, chunk, outcome))) break;
  }
  return outcome;
}

type Entry<P> = { args: string[]; peer: P };

async function runChunk<P extends PeerConfig>(
  wg: Wg,
  iface: string,
  chunk: Entry<P>[],
  outcome: ApplyOutcome<P>,
): Promise<boolean> {
  try {
    await wg.set(iface, chunk.flatMap((e) => e.args));
    outcome.attempted.push(...chunk.map((e) => e.peer));
    return true;
  } catch (error) {
    // E2BIG means the process never started, so nothing changed: a smaller
    // stack limit than assumed. Split the chunk and go on.
    if (error instanceof WgError && error.kind === "argv-too-long" && chunk.length > 1) {
      const half = Math.ceil(chunk.length / 2);
      return (await runChunk(wg, iface, chunk.slice(0, half), outcome)) &&
        (await runChunk(wg, iface, chunk.slice(half), outcome));
    }
    outcome.attempted.push(...chunk.map((e) => e.peer));
    outcome.failure = error instanceof WgError
      ? error
      : new WgError("failed", String(error), { cause: error });
    return false;
  }
}
