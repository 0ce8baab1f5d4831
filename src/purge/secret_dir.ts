/**
 * A private directory for preshared-key files. `wg set` reads a preshared key
 * only from a file, and argv is world-readable through /proc, so each key is
 * written to a 0600 file in a fresh 0700 directory that is removed as soon as
 * the `wg` calls that need it are done.
 *
 * @module
 */

import { SecretFileError } from "../errors.ts";
import { describeFsError } from "../config/read_file.ts";

const PREFIX = "wg-reinstate-";
const ORPHAN = /^wg-reinstate-(\d+)-/;

/**
 * Removes secret directories left in `parent` (default $TMPDIR or /tmp) by
 * processes that no longer exist: a process killed by SIGKILL never ran its
 * `finally`. Run at the start of every cycle.
 */
export async function removeOrphanedSecretDirs(parent?: string): Promise<void> {
  await removeOrphans(parent ?? Deno.env.get("TMPDIR") ?? "/tmp");
}

async function removeOrphans(parent: string): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(parent));
  } catch {
    return; // makeTempDir below reports an unusable parent.
  }
  for (const entry of entries) {
    const pid = ORPHAN.exec(entry.name)?.[1];
    if (!entry.isDirectory || pid === undefined || Number(pid) === Deno.pid) continue;
    const alive = await Deno.stat(`/proc/${pid}`).then(() => true, () => false);
    if (!alive) await Deno.remove(`${parent}/${entry.name}`, { recursive: true }).catch(() => {});
  }
}

/** A private temporary directory holding secret files. Call {@link remove} in `finally`. */
export class SecretDir {
  #files = new Map<string, string>();

  private constructor(readonly path: string) {}

  /**
   * Creates the directory (mode 0700) under the system temp dir or `parent`.
   * Its name carries this process's id, so that directories left by a
   * process that was killed (SIGKILL skips `finally`) are recognised and
   * removed here first.
   *
   * @param parent where to create it; defaults to $TMPDIR or /tmp
   */
  static async create(parent?: string): Promise<SecretDir> {
    const where = parent ?? Deno.env.get("TMPDIR") ?? "/tmp";
    let path: string;
    try {
      path = await Deno.makeTempDir({ prefix: `${PREFIX}${Deno.pid}-`, dir: parent });
      // makeTempDir already uses 0700; chmod makes that independent of umask and platform.
      await Deno.chmod(path, 0o700);
    } catch (error) {
      throw new SecretFileError(
        `cannot create a private directory in ${where}: ${describeFsError(error)}`,
      );
    }
    return new SecretDir(path);
  }

  /**
   * Writes one secret to a new 0600 file and returns its path; the same
   * secret again gets the same file, so a repair writes nothing new. The
   * file name says nothing about the secret or its peer.
   */
  async write(secret: string): Promise<string> {
    const existing = this.#files.get(secret);
    if (existing !== undefined) return existing;
    const file = `${this.path}/psk-${this.#files.size}`;
    try {
      await Deno.writeTextFile(file, `${secret}\n`, { mode: 0o600, createNew: true });
    } catch (error) {
      throw new SecretFileError(
        `cannot write a preshared-key file in ${this.path}: ${describeFsError(error)}`,
      );
    }
    this.#files.set(secret, file);
    return file;
  }

  /** Removes the directory and every file in it. Safe to call twice. */
  async remove(): Promise<void> {
    await Deno.remove(this.path, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}
