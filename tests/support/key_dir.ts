/**
 * A key directory, or a purge journal with its key directory, in a fresh
 * private temporary parent, for tests that purge peers with preshared keys
 * without touching /var/run.
 *
 * @module
 */
import { KeyDir } from "../../src/wg/key_dir.ts";
import { type InterfaceIdentity, PurgeJournal } from "../../src/purge/journal.ts";

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

/** The identity a test interface's journal records. */
export const TEST_IDENTITY: InterfaceIdentity = { name: "wg0", publicKey: null, listenPort: 51820 };

/**
 * Calls `fn` with a new purge journal in a private parent, and a way to open
 * more there (as repairs do); removes them all afterwards.
 */
export async function withJournal<T>(
  fn: (journal: PurgeJournal, reopen: () => Promise<PurgeJournal>, parent: string) => Promise<T>,
): Promise<T> {
  const parent = await Deno.makeTempDir({ prefix: "wr-unit-" });
  const reopen = () => PurgeJournal.open(parent, undefined, TEST_IDENTITY);
  const journal = await reopen();
  try {
    return await fn(journal, reopen, parent);
  } finally {
    await journal.remove();
    await Deno.remove(parent, { recursive: true });
  }
}
