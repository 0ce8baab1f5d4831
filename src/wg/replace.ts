/**
 * How the real `wg` replaces peers: `wg set` processes whose arguments
 * remove each peer and add it back, as many peers per process as argv
 * allows, with preshared keys only ever in files of a key directory (argv is
 * world-readable through /proc). `WgCommand` (command.ts) runs it; it takes the
 * process runner as a function so that tests can record the argv it builds.
 *
 * @module
 */
import { KeyFileError, WgError } from "../common/errors.ts";
import type { KeyDir } from "./key_dir.ts";
import { chunkByArgSize, type PeerConfig, replaceArgs } from "./set_args.ts";

/** How one `replacePeers` call is made. */
export interface ReplaceOptions {
  /** Milliseconds one `wg` process may take before it counts as hung; default the runner's own. */
  timeoutMs?: number;
  /** Where preshared keys are written for `wg` to read; required when a peer has one. */
  keys?: KeyDir | null;
}

/**
 * What became of a `replacePeers` call. A failure is a result, not an
 * exception: the caller must know which peers reached `wg`, to verify them.
 */
export interface ReplaceResult {
  /**
   * How many of the peers, from the first, were handed to `wg`: all of them
   * on success; on failure, those of the processes that ran, the failed one
   * included. Peers after them were not touched.
   */
  handed: number;
  /** Why the call stopped, or `null` when every peer was replaced. */
  failure: WgError | KeyFileError | null;
}

/** Starts one `wg set <iface>` process with the given arguments; throws a {@link WgError}. */
export type SetProcess = (args: string[]) => Promise<void>;

type Entry = { args: string[]; readsKeyFile: boolean };

/**
 * Replaces `peers` through `run`, in order: every preshared key written to a
 * file first (a write failure changes nothing), then one process per chunk
 * of `argvBudget` bytes. A chunk the kernel refuses with E2BIG is halved
 * until it fits. Stops at the first failure.
 *
 * @param keys where preshared keys are written; required when a peer has one
 */
export async function replaceByArgv(
  peers: readonly PeerConfig[],
  keys: KeyDir | null,
  argvBudget: number,
  run: SetProcess,
): Promise<ReplaceResult> {
  const result: ReplaceResult = { handed: 0, failure: null };
  const entries: Entry[] = [];
  try {
    for (const peer of peers) {
      let pskFile: string | null = null;
      if (peer.presharedKey !== null) {
        if (keys === null) throw new Error("internal: a preshared key without a key directory");
        pskFile = await keys.write(peer.presharedKey);
      }
      entries.push({ args: replaceArgs(peer, pskFile), readsKeyFile: pskFile !== null });
    }
  } catch (error) {
    if (!(error instanceof KeyFileError)) throw error;
    result.failure = error;
    return result;
  }
  for (const chunk of chunkByArgSize(entries, (e) => e.args, argvBudget)) {
    if (!(await runChunk(chunk, keys, run, result))) break;
  }
  return result;
}

async function runChunk(
  chunk: Entry[],
  keys: KeyDir | null,
  run: SetProcess,
  result: ReplaceResult,
): Promise<boolean> {
  // Only a process that reads key files depends on the directory; the others
  // (a repair of peers without a preshared key) go on whatever happened to it.
  if (keys !== null && chunk.some((e) => e.readsKeyFile)) {
    try {
      await keys.check(); // Right before wg reads the files: still the directory made?
    } catch (error) {
      if (!(error instanceof KeyFileError)) throw error;
      result.failure = error; // The rest stays as it is, endpoint and all, for the next cycle.
      return false;
    }
  }
  try {
    await run(chunk.flatMap((e) => e.args));
    result.handed += chunk.length;
    return true;
  } catch (error) {
    // E2BIG means the process never started, so nothing changed: a smaller
    // stack limit than assumed. Split the chunk and go on.
    if (error instanceof WgError && error.kind === "argv-too-long" && chunk.length > 1) {
      const half = Math.ceil(chunk.length / 2);
      return (await runChunk(chunk.slice(0, half), keys, run, result)) &&
        (await runChunk(chunk.slice(half), keys, run, result));
    }
    result.handed += chunk.length;
    result.failure = error instanceof WgError
      ? error
      : new WgError("failed", String(error), { cause: error });
    return false;
  }
}
