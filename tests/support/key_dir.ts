/**
 * A key directory in a fresh private temporary parent, for tests that purge
 * peers with preshared keys without touching /var/run.
 *
 * @module
 */
import { KeyDir } from "../../src/wg/key_dir.ts";

/** Calls `fn` with a new key directory, and removes it and its parent afterwards. */
export async function withKeyDir<T>(fn: (keys: KeyDir) => Promise<T>): Promise<T> {
  const parent = await Deno.makeTempDir({ prefix: "wr-unit-" });
  const keys = await KeyDir.create(parent);
  try {
    return await fn(keys);
  } finally {
    await keys.remove();
    await Deno.remove(parent, { recursive: true });
  }
}
