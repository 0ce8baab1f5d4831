/**
 * How systemd-networkd and netplan find their files in a list of
 * directories: a name in a higher directory hides the same name in lower
 * ones, the survivors are read in `strcmp` order of name, and a link to
 * `/dev/null` masks a name.
 *
 * @module
 */
import { ConfigError } from "../common/errors.ts";
import { describeFsError } from "../common/fs_errors.ts";

const encoder = new TextEncoder();

/**
 * C's `strcmp` on the UTF-8 bytes, not UTF-16 code units as `<` compares:
 * how systemd and netplan order the files they read.
 */
export function strcmp(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

/** `dir/name`, without doubling a trailing slash. */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

/**
 * The entries of `dirs` (highest priority first) that `take` accepts, as
 * `[name, path]`: the first directory holding a name wins, sorted by name.
 * A missing directory holds none.
 *
 * @param what the owner's directory, for the message: "networkd directory"
 * @throws {ConfigError} for a directory that cannot be listed
 */
export async function listWinners(
  dirs: readonly string[],
  take: (entry: Deno.DirEntry) => boolean,
  what: string,
): Promise<[string, string][]> {
  const found = new Map<string, string>();
  for (const dir of dirs) {
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (take(entry) && !found.has(entry.name)) found.set(entry.name, joinPath(dir, entry.name));
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw new ConfigError(`${dir}: cannot list ${what}: ${describeFsError(error)}`, {
        cause: error,
      });
    }
  }
  return [...found].sort(([a], [b]) => strcmp(a, b));
}

/**
 * Whether `path` resolves to `/dev/null`: a mask. One that cannot be
 * resolved is none; reading it then says why.
 */
export async function isDevNull(path: string): Promise<boolean> {
  try {
    return await Deno.realPath(path) === "/dev/null";
  } catch {
    return false;
  }
}
