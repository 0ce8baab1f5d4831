/**
 * One writer per interface: an advisory lock file per interface, so that a
 * cron `run` and a running daemon never purge the same interface at once.
 * The kernel drops a flock when its holder dies, even by SIGKILL, so a crash
 * never leaves an interface locked.
 *
 * @module
 */
import { RuntimeError } from "../common/errors.ts";
import { describeFsError } from "../common/fs_errors.ts";

/** Locks held on interfaces, and the interfaces another process holds. */
export interface InterfaceLocks {
  held: string[];
  busy: string[];
  /** Releases every lock held. */
  release(): void;
}

/**
 * Tries to lock each interface without waiting.
 *
 * @throws {RuntimeError} when the lock directory cannot be created or written
 */
export async function lockInterfaces(
  dir: string,
  names: readonly string[],
): Promise<InterfaceLocks> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new RuntimeError(`lock-dir: ${dir}: ${describeFsError(error)}`, { cause: error });
  }
  const files: Deno.FsFile[] = [];
  const held: string[] = [];
  const busy: string[] = [];
  const release = () => {
    for (const file of files.splice(0)) file.close();
  };
  try {
    for (const name of [...new Set(names)].sort()) {
      const file = await Deno.open(`${dir}/${name}.lock`, {
        create: true,
        write: true,
        mode: 0o600,
      });
      if (await file.tryLock(true)) {
        files.push(file);
        held.push(name);
      } else {
        file.close();
        busy.push(name);
      }
    }
  } catch (error) {
    release();
    throw new RuntimeError(`lock-dir: ${dir}: ${describeFsError(error)}`, { cause: error });
  }
  return { held, busy, release };
}
