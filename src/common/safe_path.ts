/**
 * The one rule for every directory and file that the tool, as root, writes
 * (key directories, lock files, the status and metrics files): the directory
 * must be a real directory owned by this process's user and writable by no
 * one else, and so must every directory above it be safe from others (owned
 * by root or this user, and writable by others only with the sticky bit).
 * Otherwise another local user could swap in a directory or plant a symlink
 * between a check and a write, and make root write, or read, a file of
 * theirs.
 *
 * A directory's identity (device and inode) is kept, so that a step that
 * trusts its contents can check it is still the same ({@link stillSafe}). Files
 * are created with `O_CREAT|O_EXCL` (Deno's `createNew`), which never follows
 * a symlink, and what was opened is checked against the path (`fstat` against
 * `lstat`) before it is trusted.
 *
 * @module
 */
import { UnsafePathError } from "./errors.ts";
import { describeFsError } from "./fs_errors.ts";

/** A directory that passed the rule: its path and identity when checked. */
export interface SafeDir {
  /** The absolute path. */
  path: string;
  /** The setting that named it, as messages name it. */
  what: string;
  dev: number;
  ino: number;
}

/** The owner and mode bits the rule looks at: a subset of `Deno.FileInfo`, as `lstat` reports it. */
export interface PathInfo {
  isDirectory: boolean;
  isSymlink: boolean;
  uid: number | null;
  mode: number | null;
  dev: number;
  ino: number | null;
}

const STICKY = 0o1000;

/**
 * Why a directory fails the rule, or null when it passes. Pure.
 *
 * @param final the directory itself (owner must be `uid`, no write for others);
 *   otherwise an ancestor (owner root or `uid`, write for others only when sticky)
 */
export function unsafeReason(info: PathInfo, uid: number, final: boolean): string | null {
  if (info.isSymlink) return "is a symbolic link";
  if (!info.isDirectory) return "is not a directory";
  const mode = info.mode ?? 0;
  if (final) {
    if (info.uid !== uid) return `is owned by uid ${info.uid}, not by this process's uid ${uid}`;
    if ((mode & 0o022) !== 0) return "is writable by group or others";
    return null;
  }
  if (info.uid !== 0 && info.uid !== uid) {
    return `is owned by uid ${info.uid}, neither root nor this process's uid ${uid}`;
  }
  if ((mode & 0o022) !== 0 && (mode & STICKY) === 0) {
    return "is writable by group or others without the sticky bit";
  }
  return null;
}

function ancestors(path: string): string[] {
  const parts = path.split("/").filter((p) => p !== "");
  return parts.map((_, i) => "/" + parts.slice(0, i).join("/"));
}

/** `path` made absolute, without resolving links (that needs read access to the whole chain). */
function absolute(path: string): string {
  const abs = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const parts: string[] = [];
  for (const part of abs.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return "/" + parts.join("/");
}

/**
 * Why an ancestor of a directory is unsafe, or null. A symlink among them
 * (/var/run -> /run) is judged by what it points to; its own directory was
 * judged before it. An ancestor the runtime may not read is skipped: the
 * compiled program may write only below fixed, root-owned places.
 */
async function ancestorProblem(path: string, uid: number): Promise<string | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
    if (info.isSymlink) info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) return null;
    return describeFsError(error);
  }
  return unsafeReason(info, uid, false);
}

/**
 * Checks `dir` and every directory above it against the rule; creates what
 * is missing (unless `create` is null), one level at a time, each checked
 * before the next is made inside it, so a link swapped in meanwhile is
 * found rather than followed.
 *
 * @param what names the setting in messages, e.g. `key-dir`
 * @param create the mode of a directory made here (default 0700); null: never make it
 * @throws {UnsafePathError} naming the directory and what is wrong; nothing was changed
 */
export async function safeDir(
  dir: string,
  what: string,
  create: number | null = 0o700,
): Promise<SafeDir> {
  const uid = Deno.uid() ?? 0;
  const fail = (path: string, why: string, cause?: unknown): never => {
    throw new UnsafePathError(`${what}: ${path} ${why}; refusing to write there`, { cause });
  };
  let path: string;
  try {
    path = absolute(dir);
  } catch (error) {
    return fail(dir, `cannot be resolved: ${describeFsError(error)}`, error);
  }
  for (const above of ancestors(path)) {
    let exists = true;
    try {
      await Deno.lstat(above);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        if (error instanceof Deno.errors.NotCapable) continue; // see ancestorProblem
        return fail(path, `is inside ${above}, which cannot be used: ${describeFsError(error)}`);
      }
      exists = false;
    }
    if (!exists) {
      if (create === null) return fail(path, `cannot be used: ${above} does not exist`);
      await makeOwnDir(above, create, uid, (why, cause) => fail(path, why, cause));
      continue;
    }
    const why = await ancestorProblem(above, uid);
    if (why !== null) fail(path, `is inside ${above}, which ${why}`);
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound) || create === null) {
      return fail(path, `cannot be used: ${describeFsError(error)}`, error);
    }
    info = await makeOwnDir(path, create, uid, (why, cause) => fail(path, why, cause));
  }
  const why = unsafeReason(info, uid, true);
  if (why !== null) fail(path, why);
  return { path, what, dev: info.dev, ino: info.ino ?? 0 };
}

/**
 * Makes one directory (its parent was checked), then confirms with `lstat`
 * that what is there is that directory, ours and not a link, before its
 * mode is set: `chmod` follows links.
 */
async function makeOwnDir(
  path: string,
  mode: number,
  uid: number,
  fail: (why: string, cause?: unknown) => never,
): Promise<Deno.FileInfo> {
  try {
    await Deno.mkdir(path, { mode });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) {
      return fail(`cannot be created: ${describeFsError(error)}`, error);
    }
  }
  const info = await Deno.lstat(path);
  if (info.isSymlink || !info.isDirectory || info.uid !== uid) {
    return fail(`cannot be created: ${path} was replaced while it was made`);
  }
  await Deno.chmod(path, mode); // Independent of the umask.
  return await Deno.lstat(path);
}

/**
 * Whether `dir` is still the directory {@link safeDir} checked: same device
 * and inode, still a real directory that passes the rule. Run it right
 * before a step that trusts the directory's contents (a `wg set` that reads
 * key files from it).
 */
export async function stillSafe(dir: SafeDir): Promise<boolean> {
  try {
    const info = await Deno.lstat(dir.path);
    return info.dev === dir.dev && info.ino === dir.ino &&
      unsafeReason(info, Deno.uid() ?? 0, true) === null;
  } catch {
    return false;
  }
}

/**
 * Checks that an open file is the regular file at `path`, owned by this
 * process's user: the `fstat` of what was opened against the `lstat` of the
 * path.
 *
 * @throws {UnsafePathError} when they differ
 */
export async function checkOpened(file: Deno.FsFile, path: string): Promise<void> {
  const [opened, there] = await Promise.all([file.stat(), Deno.lstat(path)]);
  if (
    !opened.isFile || there.isSymlink || opened.ino !== there.ino || opened.dev !== there.dev ||
    opened.uid !== (Deno.uid() ?? 0)
  ) {
    throw new UnsafePathError(`${path} is not the file that was opened; refusing to use it`);
  }
}

/**
 * Replaces `name` in a safe directory atomically: writes a new file there
 * (never following a symlink), checks it, then renames it over `name`, so a
 * reader sees the old contents or the new, never a part.
 *
 * @param mode the new file's mode (the status and metrics files are 0644)
 * @throws {UnsafePathError} when what was created is not what was opened
 */
export async function replaceFile(
  dir: SafeDir,
  name: string,
  text: string,
  mode = 0o644,
): Promise<void> {
  const target = `${dir.path}/${name}`;
  const temp = `${dir.path}/.${name}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const file = await Deno.open(temp, { write: true, createNew: true, mode });
  try {
    await checkOpened(file, temp);
    await Deno.chmod(temp, mode); // Independent of the umask; the directory is checked safe.
    const bytes = new TextEncoder().encode(text);
    for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
    file.close();
    await Deno.rename(temp, target);
  } catch (error) {
    try {
      file.close();
    } catch { /* closed above */ }
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/** The identity of a file: its device and inode. */
export interface FileId {
  dev: number;
  ino: number;
}

/**
 * The kernel's file systems: their files are its controls and reports, not
 * storage, and some directories there make kernel objects when created
 * (`mkdir` in /sys/fs/cgroup makes a cgroup).
 */
const KERNEL_FILE_SYSTEMS = ["/proc", "/sys"] as const;

/**
 * `path` made absolute with every symbolic link in it resolved, as far as
 * it exists (the `realpath` of its longest existing part, the rest as
 * written), so that two names of one place come out the same. Where the
 * runtime may not resolve a part (its permissions), the path as written,
 * made absolute.
 */
export async function resolvePath(path: string): Promise<string> {
  const written = absolute(path);
  let head = written;
  let tail = "";
  for (;;) {
    try {
      const real = await Deno.realPath(head);
      return real === "/" ? tail || "/" : real + tail;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) || head === "/") return written;
    }
    const { dir, name } = splitPath(head);
    tail = `/${name}${tail}`;
    head = dir;
  }
}

/** The kernel file system `resolved` (see {@link resolvePath}) is on, `/proc` or `/sys`, or null. */
export function kernelFileSystem(resolved: string): string | null {
  return KERNEL_FILE_SYSTEMS.find((root) => resolved === root || resolved.startsWith(`${root}/`)) ??
    null;
}

/** What a path names, for a message: `a directory`, `a FIFO`, `a character device`. */
export function fileKind(info: Deno.FileInfo): string {
  if (info.isFile) return "a regular file";
  if (info.isDirectory) return "a directory";
  if (info.isSymlink) return "a symbolic link";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "an unknown kind of file";
}

/** Why a file could not be made, without the probe's own name. */
function writeProblem(error: unknown): string {
  if ((error as { code?: unknown })?.code === "EROFS") return "read-only file system";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotCapable) return "not allowed by the runtime's permissions";
  return error instanceof Error ? error.message : String(error);
}

/**
 * Checks, before anything else is done, that {@link replaceFile} can
 * replace `name` in a checked directory and that what is there may be read
 * back: nothing, or a regular file (a link to one counts as one: the link is
 * replaced, never written through), in a directory this process can write
 * to. That is tried: a file is made there and removed, which finds a
 * read-only mount or an immutable directory that the mode bits do not show.
 *
 * @param what names the setting in messages; by default the one that named the
 *   directory (two settings may share one)
 * @returns the identity of the file there (through a link), or null when there is none
 * @throws {UnsafePathError} naming the setting, the file and what is wrong
 */
export async function checkFileSlot(
  dir: SafeDir,
  name: string,
  what: string = dir.what,
): Promise<FileId | null> {
  const base = dir.path === "/" ? "" : dir.path;
  const path = `${base}/${name}`;
  const fail = (why: string, cause?: unknown): never => {
    throw new UnsafePathError(`${what}: ${path} ${why}`, { cause });
  };
  if (name === "" || name === "." || name === "..") fail("names no file; refusing to write there");
  let info: Deno.FileInfo | null = null;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      fail(`cannot be used: ${describeFsError(error)}`, error);
    }
  }
  if (info !== null && !info.isFile) {
    fail(`is ${fileKind(info)}, not a regular file; refusing to write there`);
  }
  const probe = `${base}/.${name}.${crypto.randomUUID().slice(0, 8)}.probe`;
  try {
    (await Deno.open(probe, { write: true, createNew: true, mode: 0o600 })).close();
  } catch (error) {
    fail(`cannot be written: ${writeProblem(error)}`, error);
  }
  await Deno.remove(probe);
  return info === null ? null : { dev: info.dev, ino: info.ino ?? 0 };
}

/**
 * Splits a file path into its directory and name, for {@link safeDir} and
 * {@link replaceFile}.
 */
export function splitPath(path: string): { dir: string; name: string } {
  const slash = path.lastIndexOf("/");
  if (slash < 0) return { dir: ".", name: path };
  return { dir: slash === 0 ? "/" : path.slice(0, slash), name: path.slice(slash + 1) };
}
