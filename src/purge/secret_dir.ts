/**
 * A private directory for preshared-key files. `wg set` reads a preshared key
 * only from a file, and argv is world-readable through /proc, so each key is
 * written to a 0600 file in a fresh 0700 directory that is removed as soon as
 * the `wg` calls that need it are done.
 *
 * @module
 */

/** A private temporary directory holding secret files. Call {@link remove} in `finally`. */
export class SecretDir {
  #count = 0;

  private constructor(readonly path: string) {}

  /**
   * Creates the directory (mode 0700) under the system temp dir or `parent`.
   *
   * @param parent where to create it; defaults to $TMPDIR or /tmp
   */
  static async create(parent?: string): Promise<SecretDir> {
    const path = await Deno.makeTempDir({ prefix: "wg-reinstate-", dir: parent });
    // makeTempDir already uses 0700; chmod makes that independent of umask and platform.
    await Deno.chmod(path, 0o700);
    return new SecretDir(path);
  }

  /**
   * Writes one secret to a new 0600 file and returns its path. The file name
   * says nothing about the secret or its peer.
   */
  async write(secret: string): Promise<string> {
    const file = `${this.path}/psk-${this.#count++}`;
    await Deno.writeTextFile(file, `${secret}\n`, { mode: 0o600, createNew: true });
    return file;
  }

  /** Removes the directory and every file in it. Safe to call twice. */
  async remove(): Promise<void> {
    await Deno.remove(this.path, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}
