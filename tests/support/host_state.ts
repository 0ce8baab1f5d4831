/**
 * What the tests must leave as they found it: the tool's own run-time
 * directory on the host, and /etc and /var/lib. `deno run host_state.ts FILE`
 * records the state in FILE before the tiers run; tests/host/ compares
 * against it after.
 *
 * @module
 */

/** The host's run-time directory of the tool (status, locks, key directories). */
export const HOST_RUN_DIR = "/var/run/wg-reinstate";

/** Trees no test may write to; changes are found by modification time. */
export const HOST_TREES = ["/etc", "/var/lib"];

/** One entry of a recursive listing. */
export interface Entry {
  path: string;
  kind: "file" | "dir" | "link" | "other";
  size: number;
  mtimeMs: number;
}

/** The state recorded before the tiers. */
export interface HostState {
  /** When the record was made, in ms since the epoch. */
  takenMs: number;
  /** The listing of {@link HOST_RUN_DIR}; empty when it does not exist. */
  runDir: Entry[];
}

/** Every entry below `root` (itself included), sorted; empty when `root` does not exist. */
export function listTree(root: string): Entry[] {
  const out: Entry[] = [];
  const visit = (path: string) => {
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    const kind = info.isFile
      ? "file"
      : info.isDirectory
      ? "dir"
      : info.isSymlink
      ? "link"
      : "other";
    out.push({ path, kind, size: info.size, mtimeMs: info.mtime?.getTime() ?? 0 });
    if (kind !== "dir") return;
    for (const child of Deno.readDirSync(path)) visit(`${path}/${child.name}`);
  };
  visit(root);
  return out.sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

/** The entries of `roots` modified at or after `sinceMs` (directories by their own entries). */
export function changedSince(roots: readonly string[], sinceMs: number): string[] {
  return roots.flatMap((root) =>
    listTree(root).filter((e) => e.mtimeMs >= sinceMs).map((e) => e.path)
  );
}

if (import.meta.main) {
  const [file] = Deno.args;
  if (file === undefined) throw new Error("usage: host_state.ts FILE");
  // File times have a coarse grain on some file systems: start a little early.
  const state: HostState = { takenMs: Date.now() - 1000, runDir: listTree(HOST_RUN_DIR) };
  Deno.writeTextFileSync(file, JSON.stringify(state));
}
