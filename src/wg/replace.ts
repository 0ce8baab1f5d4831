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
 * What became of a `replacePeers` call, by index into the peers given. A
 * failure is a result, not an exception: the caller must know which peers
 * reached `wg`, and which of them a process that did not finish held, to
 * verify and repair exactly those.
 */
export interface ReplaceResult {
  /** Peers handed to a `wg` process that ran, whether or not it succeeded, in order. */
  handed: number[];
  /** Of {@link handed}, the peers of a process that did not exit 0: their state is unknown. */
  unsettled: number[];
  /**
   * Peers never handed over because no argv can hold their arguments (E2BIG
   * for a process of that peer alone): left as they are, endpoint and all.
   */
  tooLarge: number[];
  /** Why the call stopped, or `null` when every peer that fits argv was replaced. */
  failure: WgError | KeyFileError | null;
}

/** Starts one `wg set <iface>` process with the given arguments; throws a {@link WgError}. */
export type SetProcess = (args: string[]) => Promise<void>;

type Entry = { index: number; args: string[]; readsKeyFile: boolean };

/**
 * Replaces `peers` through `run`, in order: every preshared key written to a
 * file first (a write failure changes nothing), then one process per chunk
 * of `argvBudget` bytes. A chunk the kernel refuses with E2BIG is halved
 * until it fits; a single peer that still does not fit is skipped. Stops at
 * the first failure, except that when the key directory is found replaced,
 * the peers of that chunk without a preshared key still go: they need no
 * file, and leaving them would only delay their purge.
 *
 * @param keys where preshared keys are written; required when a peer has one
 */
export async function replaceByArgv(
  peers: readonly PeerConfig[],
  keys: KeyDir | null,
  argvBudget: number,
  run: SetProcess,
): Promise<ReplaceResult> {
  const result: ReplaceResult = { handed: [], unsettled: [], tooLarge: [], failure: null };
  const entries: Entry[] = [];
  try {
    for (const [index, peer] of peers.entries()) {
      let pskFile: string | null = null;
      if (peer.presharedKey !== null) {
        if (keys === null) throw new Error("internal: a preshared key without a key directory");
        pskFile = await keys.write(peer.presharedKey);
      }
      entries.push({ index, args: replaceArgs(peer, pskFile), readsKeyFile: pskFile !== null });
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
  // Only a process that reads key files depends on the directory.
  if (keys !== null && chunk.some((e) => e.readsKeyFile)) {
    try {
      await keys.check(); // Right before wg reads the files: still the directory made?
    } catch (error) {
      if (!(error instanceof KeyFileError)) throw error;
      result.failure = error; // Peers with a key keep their endpoint, for the next cycle.
      const keyless = chunk.filter((e) => !e.readsKeyFile);
      if (keyless.length > 0) await runChunk(keyless, null, run, result);
      return false;
    }
  }
  try {
    await run(chunk.flatMap((e) => e.args));
    result.handed.push(...chunk.map((e) => e.index));
    return true;
  } catch (error) {
    // E2BIG means the process never started, so nothing changed: a smaller
    // stack limit than assumed. Split the chunk and go on; a peer that does
    // not fit on its own is left as it is.
    if (error instanceof WgError && error.kind === "argv-too-long") {
      if (chunk.length === 1) {
        result.tooLarge.push(chunk[0].index);
        return true;
      }
      const half = Math.ceil(chunk.length / 2);
      return (await runChunk(chunk.slice(0, half), keys, run, result)) &&
        (await runChunk(chunk.slice(half), keys, run, result));
    }
    const indices = chunk.map((e) => e.index);
    result.handed.push(...indices);
    result.unsettled.push(...indices);
    result.failure ??= error instanceof WgError
      ? error
      : new WgError("failed", String(error), { cause: error });
    return false;
  }
}
