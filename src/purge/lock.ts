/**
 * One writer per interface: an advisory lock file per interface, so that a
 * cron `run` and a running daemon never purge the same interface at once.
 * The kernel drops a flock when its holder dies, even by SIGKILL, so a crash
 * never leaves an interface locked.
 *
 * The lock directory must pass the safe-path rule (common/safe_path.ts), so
 * no other user can plant a symlink where a lock file is made. A lock file
 * is removed when its interface is released, so one does not pile up for
 * every name ever given with `-i`; a process that locked a file just before
 * it was removed sees that the path no longer names what it locked, and
 * tries again.
 *
 * @module
 */
import { RuntimeError, UnsafePathError } from "../common/errors.ts";
import { describeFsError } from "../common/fs_errors.ts";
import { DirChecks } from "../common/dir_checks.ts";
import { checkOpened } from "../common/safe_path.ts";

/** Locks held on interfaces, and the interfaces another process holds. */
export interface InterfaceLocks {
  held: string[];
  busy: string[];
  /** Releases every lock held and removes its file. */
  release(): void;
}

/** Attempts before giving up on a lock file that keeps being replaced under us. */
const ATTEMPTS = 5;

/** Whether `path` still names the file `file` has open. */
async function stillNamed(file: Deno.FsFile, path: string): Promise<boolean> {
  try {
    const [opened, there] = await Promise.all([file.stat(), Deno.lstat(path)]);
    return opened.ino === there.ino && opened.dev === there.dev;
  } catch {
    return false;
  }
}

/**
 * Tries to lock each interface without waiting.
 *
 * @param dirs the cycle's checked directories, where `dir` is checked
 * @throws {UnsafePathError} when the lock directory fails the safe-path rule (nothing was changed)
 * @throws {RuntimeError} when a lock file cannot be created or written
 */
export async function lockInterfaces(
  dir: string,
  names: readonly string[],
  dirs: DirChecks = new DirChecks(),
): Promise<InterfaceLocks> {
  const safe = await dirs.check(dir, "lockDir");
  const held: { name: string; path: string; file: Deno.FsFile }[] = [];
  const busy: string[] = [];
  const release = () => {
    for (const { path, file } of held.splice(0)) {
      // Removed while still locked, so no one can lock this file after us.
      try {
        Deno.removeSync(path);
      } catch { /* already gone: nothing to clean */ }
      file.close();
    }
  };
  try {
    for (const name of [...new Set(names)].sort()) {
      const path = `${safe.path}/${name}.lock`;
      let outcome: "held" | "busy" | null = null;
      for (let attempt = 0; attempt < ATTEMPTS && outcome === null; attempt++) {
        const file = await Deno.open(path, { create: true, write: true, mode: 0o600 });
        try {
          await checkOpened(file, path);
        } catch (error) {
          file.close();
          throw error;
        }
        if (!(await file.tryLock(true))) {
          file.close();
          outcome = "busy";
        } else if (await stillNamed(file, path)) {
          held.push({ name, path, file });
          outcome = "held";
        } else {
          file.close(); // Its holder removed it as we locked it: lock the new one.
        }
      }
      if (outcome === "busy" || outcome === null) busy.push(name);
    }
  } catch (error) {
    release();
    if (error instanceof RuntimeError || error instanceof UnsafePathError) throw error;
    throw new RuntimeError(`${safe.what}: ${safe.path}: ${describeFsError(error)}`, {
      cause: error,
    });
  }
  return { held: held.map((h) => h.name), busy, release };
}
