/**
 * A private directory for preshared-key files (the key directory). `wg set` reads a preshared key
 * only from a file, and argv is world-readable through /proc, so each key is
 * written to a 0600 file in a fresh 0700 directory that is removed as soon as
 * the `wg` calls that need it are done.
 *
 * The directories live under one parent, by default /var/run/wg-reinstate:
 * on /run (a RAM file system, writable by root only), so a key never reaches
 * a disk and no other user can prepare the directory beforehand; the
 * compiled program needs write access there and nowhere else. Each one holds
 * a lock on its `owner` file while in use: a directory whose lock can be
 * taken belonged to a process that died (SIGKILL skips `finally`), and is
 * removed at the start of the next cycle.
 *
 * @module
 */
import { KeyFileError } from "../common/errors.ts";
import { describeFsError } from "../common/fs_errors.ts";
import { RUN_DIR } from "../common/paths.ts";

const PREFIX = "keys-";

/**
 * Removes key directories in `parent` whose owner is gone. Run at the start
 * of every cycle; a missing parent is fine.
 */
export async function removeOrphanedKeyDirs(parent: string = RUN_DIR): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(parent));
  } catch {
    return; // No parent yet, or unreadable: create() reports real problems.
  }
  for (const entry of entries) {
    if (!entry.isDirectory || !entry.name.startsWith(PREFIX)) continue;
    const dir = `${parent}/${entry.name}`;
    let owner: Deno.FsFile | null = null;
    try {
      owner = await Deno.open(`${dir}/owner`, { read: true, write: true });
      if (!(await owner.tryLock(true))) continue; // Its process is alive.
    } catch {
      // No owner file: a directory cut short while being made.
    } finally {
      owner?.close();
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** A private temporary directory holding preshared-key files. Call {@link remove} in `finally`. */
export class KeyDir {
  #files = new Map<string, string>();

  private constructor(readonly path: string, private readonly owner: Deno.FsFile) {}

  /**
   * Creates the directory (mode 0700) under `parent`, which is made (0700)
   * when missing.
   *
   * @throws {KeyFileError} when the directory cannot be made (disk full, read-only, no permission)
   */
  static async create(parent: string = RUN_DIR): Promise<KeyDir> {
    let path: string | null = null;
    let owner: Deno.FsFile | null = null;
    try {
      await Deno.mkdir(parent, { recursive: true, mode: 0o700 });
      const info = await Deno.lstat(parent);
      if (!info.isDirectory || ((info.mode ?? 0) & 0o022) !== 0) {
        throw new Error("not a directory writable only by its owner");
      }
      path = await Deno.makeTempDir({ prefix: PREFIX, dir: parent });
      // makeTempDir already uses 0700; chmod makes that independent of umask.
      await Deno.chmod(path, 0o700);
      owner = await Deno.open(`${path}/owner`, { create: true, write: true, mode: 0o600 });
      await owner.lock(true);
      return new KeyDir(path, owner);
    } catch (error) {
      owner?.close();
      if (path !== null) await Deno.remove(path, { recursive: true }).catch(() => {});
      throw new KeyFileError(
        `cannot create a private directory in ${parent}: ${describeFsError(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * Writes one secret to a new 0600 file and returns its path; the same
   * secret again gets the same file, so a repair writes nothing new. The
   * file name says nothing about the secret or its peer.
   *
   * @throws {KeyFileError} when the file cannot be written
   */
  async write(secret: string): Promise<string> {
    const existing = this.#files.get(secret);
    if (existing !== undefined) return existing;
    const file = `${this.path}/psk-${this.#files.size}`;
    try {
      await Deno.writeTextFile(file, `${secret}\n`, { mode: 0o600, createNew: true });
    } catch (error) {
      throw new KeyFileError(
        `cannot write a preshared-key file in ${this.path}: ${describeFsError(error)}`,
        { cause: error },
      );
    }
    this.#files.set(secret, file);
    return file;
  }

  /**
   * Removes the directory and every file in it, and releases it. Safe to call
   * twice.
   *
   * @throws {KeyFileError} when the files cannot be removed (the next cycle retries)
   */
  async remove(): Promise<void> {
    try {
      await Deno.remove(this.path, { recursive: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new KeyFileError(`cannot remove ${this.path}: ${describeFsError(error)}`, {
          cause: error,
        });
      }
    } finally {
      try {
        this.owner.close();
      } catch { /* already closed */ }
    }
  }
}
