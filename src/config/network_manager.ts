/**
 * Reads the WireGuard peers that NetworkManager keyfiles set up, following
 * NetworkManager's own rules (network-manager 1.42, as in Debian 12), so that
 * the endpoints of site-to-site peers configured there are never purged.
 *
 * - Directories: `/run`, `/etc`, then `/usr/lib` `NetworkManager/system-connections`,
 *   highest priority first. A directory that does not exist is skipped.
 * - Files: in `/etc`, NM reads every name but hidden ones and those of
 *   backups, package managers' leftovers, editors' and mkstemp's temporary
 *   files and certificates ({@link isKeyfileName}); in `/run` and `/usr/lib`
 *   it wants `*.nmconnection`. Only NM writes there, and only such names, so
 *   /etc's rule is taken in every directory: one rule, and a profile saved
 *   by hand under another name in `/etc` still protects its peers.
 * - Ownership: NM refuses a keyfile not owned by root (uid 0) or with any
 *   permission for group or others (`mode & 0o077`); such files are skipped,
 *   whatever user this tool runs as, since NM's rule does not depend on it.
 * - Precedence: a profile is its `[connection] uuid=`. Of several files with
 *   one UUID, the one in the higher-priority directory wins; within one
 *   directory the newer mtime, then the smaller file name. A `<uuid>.nmmeta`
 *   symlink to `/dev/null` (a tombstone, how NM deletes a profile it cannot
 *   remove from a lower directory) hides that UUID in its directory and the
 *   lower ones. A file without a UUID stands alone: NM derives one from its path.
 * - Syntax: GLib's key-file format, see {@link parseKeyfile}.
 *
 * Only `type=wireguard` profiles count. One without `interface-name` is
 * skipped: NM cannot activate it on a device of a known name, so there is
 * no interface whose peers it could set up.
 *
 * Private and preshared keys are never kept, and no error message repeats a
 * key or an endpoint from a file.
 *
 * @module
 */
import * as z from "../common/z.ts";
import { ConfigError, ParseError } from "../common/errors.ts";
import { describeFsError } from "../common/fs_errors.ts";
import { WG_KEY_PATTERN } from "../wg/constants.ts";
import type { ConfiguredPeer } from "./configured_peer.ts";
import { fieldOf, ifaceNameSchema, nmEndpointSchema } from "./fields.ts";
import { parseConfig, readConfigText } from "./read_file.ts";

/** What one keyfile says, as far as it matters here. */
export interface NmKeyfile {
  /** `[connection] uuid=`, or `null` when the file has none. */
  uuid: string | null;
  /** `[connection] type=`, e.g. `wireguard`, or `null`. */
  type: string | null;
  /** `[connection] interface-name=` of a WireGuard profile, or `null`. */
  iface: string | null;
  /**
   * The peers of a WireGuard profile with an interface name, in the order
   * their groups first appear; empty for any other profile.
   */
  peers: ConfiguredPeer[];
}

const SUFFIX = ".nmconnection";
const TOMBSTONE_SUFFIX = ".nmmeta";
/** The endings of names NM skips in `/etc`: backups, package managers', editors', certificates. */
const IGNORED_SUFFIXES = [
  ".bak",
  ".orig",
  ".rej",
  ".rpmnew",
  ".rpmsave",
  ".rpmorig",
  ".dpkg-new",
  ".dpkg-old",
  ".dpkg-dist",
  ".dpkg-tmp",
  ".swp",
  ".swpx",
  ".pem",
  ".der",
];
const PEER_GROUP_PREFIX = "wireguard-peer.";

/** g_ascii_isspace: what GLib skips before a line, around `=` and a key. */
const SPACE = "[ \\t\\n\\v\\f\\r]";
const LEADING_SPACE = new RegExp(`^${SPACE}+`);
const TRAILING_SPACE = new RegExp(`${SPACE}+$`);

/**
 * A key name as GLib accepts it: no `=`, `[` or `]`, except one trailing
 * `[locale]`. Spaces inside are allowed; around it they were trimmed.
 */
const KEY_NAME = /^[^=[\]]+(?:\[[^=[\]]+\])?$/;

const peerKey = z.string().check(z.regex(WG_KEY_PATTERN, {
  error: "the name after 'wireguard-peer.' is not a WireGuard public key " +
    "(44 characters of base64 ending in '=')",
}));

/** A control character, which GLib refuses in a group name. */
function isControl(c: string): boolean {
  return c < " " || c === "\x7f";
}

/** One `key=value` line: the raw value (escapes not yet read) and its line. */
interface Entry {
  raw: string;
  line: number;
}

/** A group: where its first header is, and its keys, the last of each name winning. */
interface Group {
  line: number;
  keys: Map<string, Entry>;
}

/**
 * GLib's string unescaping: `\s \n \t \r \\`; any other escape, or a `\`
 * at the end, makes GLib refuse the value.
 */
function unescape(raw: string, position: { source: string; line: number; field: string }) {
  return raw.replace(/\\(.?)/gs, (_, c: string) => {
    switch (c) {
      case "s":
        return " ";
      case "n":
        return "\n";
      case "t":
        return "\t";
      case "r":
        return "\r";
      case "\\":
        return "\\";
      default:
        throw new ParseError(
          position,
          c === "" ? "ends in an escape character" : "has an invalid escape sequence",
        );
    }
  });
}

/**
 * Splits key-file text into groups as GLib does: comments are whole lines
 * whose first non-blank character is `#` (so a `#` inside a value is part of
 * it); group and key names are case-sensitive; a group named twice is one
 * group; of a key given twice in a group the last counts.
 *
 * @throws {ParseError} for a line GLib refuses, which makes NM ignore the file
 */
function parseGroups(text: string, source: string): Map<string, Group> {
  const groups = new Map<string, Group>();
  let current: Group | null = null;
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = index + 1;
    const content = lines[index].replace(/\r$/, "").replace(LEADING_SPACE, "");
    if (content === "" || content.startsWith("#")) continue;
    // A group line ends at its first `]`; only spaces and tabs may follow.
    const header = /^\[([^\]]*)\][ \t]*$/.exec(content);
    if (header !== null) {
      const name = header[1];
      // Names are not quoted: a misspelt peer group may hold a key.
      if (name === "" || name.includes("[") || [...name].some(isControl)) {
        throw new ParseError({ source, line }, "invalid group name");
      }
      current = groups.get(name) ?? { line, keys: new Map() };
      groups.set(name, current);
      continue;
    }
    const eq = content.indexOf("=");
    if (eq <= 0) {
      throw new ParseError({ source, line }, "is not a key=value pair, a group or a comment");
    }
    const key = content.slice(0, eq).replace(TRAILING_SPACE, "");
    if (!KEY_NAME.test(key)) throw new ParseError({ source, line }, "invalid key name");
    if (current === null) {
      throw new ParseError({ source, line, field: key }, "comes before the first [group]");
    }
    // GLib drops the blanks after `=` but keeps those at the end of the line.
    current.keys.set(key, { raw: content.slice(eq + 1).replace(LEADING_SPACE, ""), line });
  }
  return groups;
}

/**
 * Parses one NetworkManager keyfile (GLib key-file syntax, nm-settings-keyfile(5)).
 *
 * Peers are the groups named exactly `wireguard-peer.<public key>`; a peer's
 * endpoint is its non-empty `endpoint=`, which must be `host:port`,
 * `a.b.c.d:port` or `[v6]:port`. Peers are read only for a `type=wireguard`
 * profile with an `interface-name`. Private and preshared keys are not kept.
 *
 * @param text the file's text
 * @param source the file name, for `at`, `endpointAt` and error messages
 * @throws {ParseError} `source:line: field: problem` for a line GLib refuses,
 *   a bad escape, an invalid `interface-name`, a `wireguard-peer.` group
 *   whose name is not a public key, or an invalid `endpoint`; never quoting
 *   a key or an address
 */
export function parseKeyfile(text: string, source: string): NmKeyfile {
  const groups = parseGroups(text, source);
  const connection = groups.get("connection");
  const value = (group: Group | undefined, key: string): Entry & { value: string } | null => {
    const entry = group?.keys.get(key);
    if (entry === undefined) return null;
    return { ...entry, value: unescape(entry.raw, { source, line: entry.line, field: key }) };
  };
  const uuid = value(connection, "uuid")?.value.trim() || null;
  const type = value(connection, "type")?.value ?? null;
  const result: NmKeyfile = { uuid, type, iface: null, peers: [] };
  if (type !== "wireguard") return result;
  const ifaceEntry = value(connection, "interface-name");
  // NM reads an empty value as unset.
  if (ifaceEntry === null || ifaceEntry.value === "") return result;
  const iface = fieldOf(ifaceNameSchema, ifaceEntry.value, {
    source,
    line: ifaceEntry.line,
    field: "interface-name",
  });
  result.iface = iface;
  for (const [name, group] of groups) {
    if (!name.startsWith(PEER_GROUP_PREFIX)) continue;
    const publicKey = fieldOf(peerKey, name.slice(PEER_GROUP_PREFIX.length), {
      source,
      line: group.line,
      field: "wireguard-peer group",
    });
    const ep = value(group, "endpoint");
    // NM strips blanks around the endpoint; a kept endpoint errs on the safe side.
    const endpointText = ep?.value.trim() ?? "";
    let endpointAt: string | null = null;
    if (ep !== null && endpointText !== "") {
      fieldOf(nmEndpointSchema, endpointText, { source, line: ep.line, field: "endpoint" });
      endpointAt = `${source}:${ep.line}`;
    }
    result.peers.push({ iface, publicKey, endpointAt, at: `${source}:${group.line}` });
  }
  return result;
}

/** A file NM would read, with what decides between files of one UUID. */
interface Candidate {
  path: string;
  name: string;
  mtime: number;
  file: NmKeyfile;
}

/** The names NM reads in `/etc`, taken in every directory (see the module's note). */
function isKeyfileName(name: string): boolean {
  if (name.startsWith(".") || name.endsWith("~") || name.endsWith(TOMBSTONE_SUFFIX)) return false;
  // mkstemp's `.XXXXXX`: a file NM or an editor is still writing.
  if (/\.[A-Za-z0-9]{6}$/.test(name) && !name.endsWith(SUFFIX)) return false;
  return !IGNORED_SUFFIXES.some((suffix) => name.endsWith(suffix));
}

/** NM's check: owned by `owner` (root), no permission for group or others. */
function nmWouldRead(info: Deno.FileInfo, owner: number): boolean {
  return info.isFile && info.uid === owner && info.mode !== null && (info.mode & 0o077) === 0;
}

/** The names in `dir`, sorted, or `null` when it does not exist. */
async function listDir(dir: string): Promise<string[] | null> {
  try {
    const names: string[] = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    return names.sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw new ConfigError(
      `${dir}: cannot read NetworkManager keyfile directory: ${describeFsError(error)}`,
      { cause: error },
    );
  }
}

/** `stat` of an entry (following a symlink), or `null` when it vanished or dangles. */
async function statEntry(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw new ConfigError(
      `${path}: cannot read NetworkManager keyfile: ${describeFsError(error)}`,
      { cause: error },
    );
  }
}

/** True when `path` is a symlink to `/dev/null`: NM's tombstone. */
async function isTombstone(path: string): Promise<boolean> {
  try {
    const info = await Deno.lstat(path);
    return info.isSymlink && (await Deno.readLink(path)) === "/dev/null";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw new ConfigError(
      `${path}: cannot read NetworkManager metadata: ${describeFsError(error)}`,
      { cause: error },
    );
  }
}

/** True when `a` wins over `b` in one directory: newer mtime, then smaller name. */
function beats(a: Candidate, b: Candidate): boolean {
  if (a.mtime !== b.mtime) return a.mtime > b.mtime;
  return a.name < b.name;
}

/**
 * Reads the keyfiles in `dirs` (highest priority first: /run, /etc, /usr/lib)
 * and returns the peers of every connection with `type=wireguard`, its iface
 * being `connection.interface-name`.
 *
 * Every file NM would read is parsed, a shadowed one too: a keyfile that does
 * not parse is a configurator's mistake either way.
 *
 * @param owner the uid NM requires of a keyfile: root's; tests that do not
 *   run as root pass their own
 * @throws {ConfigError} naming the path (and `file:line` and field for a parse
 *   error) when a directory or file cannot be read or a keyfile does not parse
 */
export async function readNetworkManager(
  dirs: readonly string[],
  { owner = 0 }: { owner?: number } = {},
): Promise<ConfiguredPeer[]> {
  // UUIDs that a higher-priority directory has settled, by a profile or a tombstone.
  const settled = new Set<string>();
  const peers: ConfiguredPeer[] = [];
  for (const dir of dirs) {
    const names = await listDir(dir);
    if (names === null) continue;
    const tombstones = new Set<string>();
    const best = new Map<string, Candidate>();
    const candidates: Candidate[] = [];
    for (const name of names) {
      const path = `${dir}/${name}`;
      if (name.endsWith(TOMBSTONE_SUFFIX)) {
        if (await isTombstone(path)) {
          tombstones.add(name.slice(0, -TOMBSTONE_SUFFIX.length).toLowerCase());
        }
        continue;
      }
      if (!isKeyfileName(name)) continue;
      const info = await statEntry(path);
      if (info === null || !nmWouldRead(info, owner)) continue;
      const text = await readConfigText(path, "NetworkManager keyfile");
      const file = parseConfig(() => parseKeyfile(text, path));
      candidates.push({ path, name, mtime: info.mtime?.getTime() ?? 0, file });
    }
    for (const candidate of candidates) {
      // UUIDs are hex: NM compares them without regard to case. A file
      // without one gets an identity from its path, as NM derives its UUID;
      // the NUL keeps it apart from any UUID.
      const id = candidate.file.uuid?.toLowerCase() ?? `\0${candidate.path}`;
      if (settled.has(id) || tombstones.has(id)) continue;
      const other = best.get(id);
      if (other === undefined || beats(candidate, other)) best.set(id, candidate);
    }
    for (const id of tombstones) settled.add(id);
    for (const [id, winner] of best) {
      settled.add(id);
      peers.push(...winner.file.peers);
    }
  }
  return peers;
}
