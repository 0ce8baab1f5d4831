/**
 * A private directory for preshared-key files (the key directory). `wg set` reads a preshared key
 * only from a file, and argv is world-readable through /proc, so each key is
 * written to a 0600 file in a fresh 0700 directory that is removed as soon as
 * the `wg` calls that need it are done.
 *
 * The directories live under one parent, by default /var/run/wg-reinstate:
 * on /run (a RAM file system, writable by root only), so a key never reaches
 * a disk; the compiled program needs write access there and nowhere else.
 * The parent must pass the safe-path rule (common/safe_path.ts): another
 * user who could write there could swap in a directory of their own between
 * its creation and `wg set`, and hand root's `wg` their own preshared key.
 * As a second guard, {@link KeyDir.check} confirms, before each `wg` call
 * that reads from it, that the directory is still the one created.
 *
 * The purge cycle owns a directory's life (one per interface it purges,
 * removed when its repairs are done); the `wg` runner (replace.ts) writes
 * the keys into it and checks it before each process.
 *
 * Each directory holds a lock on its `owner` file while in use: a directory
 * whose lock can be taken belonged to a process that died (SIGKILL skips
 * `finally`), and is removed at the start of the next cycle.
 *
 * @module
 */
import { KeyFileError, UnsafePathError } from "../common/errors.ts";
import { describeFsError } from "../common/fs_errors.ts";
import { RUN_DIR } from "../common/paths.ts";
import { DirChecks } from "../common/dir_checks.ts";
import { checkOpened, type SafeDir, stillSafe, unsafeReason } from "../common/safe_path.ts";

const PREFIX = "keys-";

/** Whether `path` is a real directory of ours, or a regular file of ours; never followed if a link. */
async function ours(path: string, kind: "dir" | "file"): Promise<boolean> {
  try {
    const info = await Deno.lstat(path);
    const uid = Deno.uid() ?? 0;
    if (kind === "file") return info.isFile && info.uid === uid;
    return unsafeReason(info, uid, true) === null;
  } catch {
    return false;
  }
}

/** The file in a key directory that lists what its purge touched (purge/journal.ts). */
export const JOURNAL_FILE = "journal";

/** The largest journal read back: far above 65,536 peers' worth (about 10 MB). */
const MAX_JOURNAL_BYTES = 256 * 1024 * 1024;

/**
 * A key directory whose process died (SIGKILL skips `finally`), held by
 * this process (its owner lock) until {@link remove} or {@link release}.
 */
export interface OrphanedKeyDir {
  /** The directory's name, which the tags of its `wg` calls start with. */
  readonly name: string;
  /** The journal its purge wrote, or `null` when it has none. */
  readonly journal: string | null;
  /** When the journal was last written (its mtime, wall clock ms), or `null`. */
  readonly journalWrittenMs: number | null;
  /** One of its preshared-key files by name (`psk-N`), or `null` when gone or not ours. */
  secret(file: string): Promise<string | null>;
  /** Removes the directory and every file in it, and releases it. */
  remove(): Promise<void>;
  /** Releases it as it is, for a later start. */
  release(): void;
}

/**
 * The key directories in `parent` whose owner is gone, each locked for this
 * process. Run at the start of every cycle, with the parent the cycle has
 * just checked against the safe-path rule. Nothing is opened that was not
 * checked first: an entry that is not a directory of ours, or whose `owner`
 * is not a file of ours, is left alone. A directory without an owner file
 * (cut short while being made) holds nothing yet and is removed here.
 */
export async function orphanedKeyDirs(safe: SafeDir): Promise<OrphanedKeyDir[]> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(safe.path));
  } catch {
    return []; // Unreadable: create() reports real problems.
  }
  const found: OrphanedKeyDir[] = [];
  for (const entry of entries) {
    if (!entry.name.startsWith(PREFIX)) continue;
    const dir = `${safe.path}/${entry.name}`;
    if (!(await ours(dir, "dir"))) continue;
    const ownerPath = `${dir}/owner`;
    if (!(await ours(ownerPath, "file"))) {
      if (!(await Deno.lstat(ownerPath).then(() => true, () => false))) {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
      continue; // An owner that is not a file of ours: not ours to judge.
    }
    let owner: Deno.FsFile | null = null;
    try {
      owner = await Deno.open(ownerPath, { read: true, write: true });
      await checkOpened(owner, ownerPath);
      if (!(await owner.tryLock(true))) {
        owner.close(); // Its process is alive.
        continue;
      }
    } catch {
      owner?.close();
      continue; // Changed under us: leave it for the next cycle.
    }
    const journal = `${dir}/${JOURNAL_FILE}`;
    const written = await Deno.lstat(journal).then((i) => i.mtime?.getTime() ?? null, () => null);
    found.push(orphan(dir, entry.name, owner, await readOurs(journal), written));
  }
  return found;
}

function orphan(
  dir: string,
  name: string,
  owner: Deno.FsFile,
  journal: string | null,
  journalWrittenMs: number | null,
): OrphanedKeyDir {
  const release = () => {
    try {
      owner.close();
    } catch { /* already closed */ }
  };
  return {
    name,
    journal,
    journalWrittenMs,
    secret: async (file) => {
      if (!/^psk-\d+$/.test(file)) return null;
      return (await readOurs(`${dir}/${file}`))?.trim() ?? null;
    },
    remove: async () => {
      try {
        await Deno.remove(dir, { recursive: true });
      } finally {
        release();
      }
    },
    release,
  };
}

/** A regular file of ours, read whole (bounded); `null` when absent, not ours, or too large. */
async function readOurs(path: string): Promise<string | null> {
  if (!(await ours(path, "file"))) return null;
  let file: Deno.FsFile | null = null;
  try {
    file = await Deno.open(path, { read: true });
    await checkOpened(file, path);
    if ((await file.stat()).size > MAX_JOURNAL_BYTES) return null;
    return await new Response(file.readable).text();
  } catch {
    return null;
  } finally {
    try {
      file?.close();
    } catch { /* closed by the stream */ }
  }
}

/** A private temporary directory holding preshared-key files. Call {@link remove} in `finally`. */
export class KeyDir {
  #files = new Map<string, string>();

  private constructor(
    private readonly dir: SafeDir,
    private readonly owner: Deno.FsFile,
  ) {}

  /** The directory's path. */
  get path(): string {
    return this.dir.path;
  }

  /** The directory's name, unique among live and dead ones: the tags of its calls start with it. */
  get name(): string {
    return this.dir.path.slice(this.dir.path.lastIndexOf("/") + 1);
  }

  /**
   * Creates the directory (mode 0700) under `parent`, which is made (0700)
   * when missing and must pass the safe-path rule.
   *
   * @param dirs the cycle's checked directories, where `parent` is checked
   * @throws {UnsafePathError} when `parent` fails the safe-path rule (nothing was changed)
   * @throws {KeyFileError} when the directory cannot be made (disk full, read-only, no permission)
   */
  static async create(
    parent: string = RUN_DIR,
    dirs: DirChecks = new DirChecks(),
  ): Promise<KeyDir> {
    const safe = await dirs.check(parent, "keyDir");
    let path: string | null = null;
    let owner: Deno.FsFile | null = null;
    try {
      path = await Deno.makeTempDir({ prefix: PREFIX, dir: safe.path });
      // makeTempDir already uses 0700; chmod makes that independent of umask.
      await Deno.chmod(path, 0o700);
      const info = await Deno.lstat(path);
      const ownerPath = `${path}/owner`;
      owner = await Deno.open(ownerPath, { createNew: true, write: true, mode: 0o600 });
      await checkOpened(owner, ownerPath);
      await owner.lock(true);
      return new KeyDir({ path, what: safe.what, dev: info.dev, ino: info.ino ?? 0 }, owner);
    } catch (error) {
      owner?.close();
      if (path !== null) await Deno.remove(path, { recursive: true }).catch(() => {});
      if (error instanceof UnsafePathError) throw error;
      throw new KeyFileError(
        `cannot create a private directory in ${safe.path}: ${describeFsError(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * Confirms that the directory is still the one created (same device and
   * inode, ours, 0700-like): run before each `wg` call that reads from it.
   *
   * @throws {KeyFileError} when it was replaced; the call must not run
   */
  async check(): Promise<void> {
    if (!(await stillSafe(this.dir))) {
      throw new KeyFileError(
        `the key directory ${this.dir.path} is no longer the one created; not running wg with it`,
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
    const file = `${this.dir.path}/psk-${this.#files.size}`;
    try {
      await Deno.writeTextFile(file, `${secret}\n`, { mode: 0o600, createNew: true });
    } catch (error) {
      throw new KeyFileError(
        `cannot write a preshared-key file in ${this.dir.path}: ${describeFsError(error)}`,
        { cause: error },
      );
    }
    this.#files.set(secret, file);
    return file;
  }

  /**
   * Appends `text` to the directory's journal (a 0600 file), after checking
   * that the directory is still the one created.
   *
   * @throws {KeyFileError} when it was replaced, or the write failed
   */
  async appendJournal(text: string): Promise<void> {
    await this.check();
    const path = `${this.dir.path}/${JOURNAL_FILE}`;
    let file: Deno.FsFile | null = null;
    try {
      file = await Deno.open(path, { append: true, create: true, mode: 0o600 });
      await checkOpened(file, path);
      const bytes = new TextEncoder().encode(text);
      for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
    } catch (error) {
      if (error instanceof KeyFileError) throw error;
      throw new KeyFileError(
        `cannot write the purge journal in ${this.dir.path}: ${describeFsError(error)}`,
        { cause: error },
      );
    } finally {
      file?.close();
    }
  }

  /**
   * Removes the directory and every file in it, and releases it. Safe to call
   * twice. A directory that was replaced is not ours to remove.
   *
   * @throws {KeyFileError} when the files cannot be removed (the next cycle retries)
   */
  async remove(): Promise<void> {
    try {
      const gone = await Deno.lstat(this.dir.path).then(
        () => false,
        (e) => e instanceof Deno.errors.NotFound,
      );
      if (gone) return; // Removed already: nothing left to do.
      if (!(await stillSafe(this.dir))) {
        // Not ours any more: removing it could remove someone else's files.
        throw new KeyFileError(
          `the key directory ${this.dir.path} was replaced; its preshared-key files are not ` +
            "removed here: check the directory",
        );
      }
      await Deno.remove(this.dir.path, { recursive: true });
    } catch (error) {
      if (error instanceof KeyFileError) throw error;
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new KeyFileError(`cannot remove ${this.dir.path}: ${describeFsError(error)}`, {
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
