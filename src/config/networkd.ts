/**
 * Reads the WireGuard peers that systemd-networkd `.netdev` files set up,
 * following networkd's own rules (systemd 252, as in Debian 12), so that the
 * endpoints of site-to-site peers configured there are never purged.
 *
 * - Directories: /etc, /run, /usr/local/lib and /usr/lib `systemd/network`
 *   (the `networkdDirs` setting), highest priority first. One that does not
 *   exist is skipped.
 * - Files: `*.netdev` (not hidden; regular files and symlinks only, as
 *   networkd's directory scan takes). Files are keyed by basename: the one
 *   in the highest-priority directory wins and the others of that name are
 *   not read at all. A winner that is empty or a symlink to `/dev/null`
 *   masks the name. The survivors are read in strcmp order of basename.
 * - Drop-ins: `<basename>.d/*.conf` from every directory (not only the one
 *   holding the main file), by basename with the same precedence and
 *   masking, parsed after the main file in strcmp order of basename.
 * - Syntax: systemd's unit-file format, see {@link parseNetdev}.
 * - Meaning: see {@link interpretNetdev}. Two netdevs with one `Name=`: the
 *   first in basename order claims it and networkd ignores the later ones
 *   ("already configured"), so their peers are not returned.
 *
 * `[Match]` sections (Host=, Virtualization=, KernelCommandLine=, …) are not
 * evaluated: every netdev is taken as matching this system. Evaluating them
 * would mean re-implementing systemd's conditions; taking a netdev that does
 * not apply only protects endpoints that need no protection, while skipping
 * one that applies would let its site-to-site endpoints be purged. For the
 * same reason a netdev with a `[Match]` claims no name: the peers of every
 * netdev of that name are taken, up to the first without one.
 *
 * Where networkd would log a bad value and go on, this reader throws a
 * {@link ParseError} (wrapped in a `ConfigError` by {@link readNetworkd}):
 * a file that does not mean what its author thinks should be fixed before
 * the tool decides which endpoints to keep.
 *
 * Private and preshared keys are never kept (the parser keeps only their
 * shape), `PrivateKeyFile=` is never read, and no error message repeats a
 * key or an endpoint from a file.
 *
 * @module
 */
import * as z from "../common/z.ts";
import { ConfigError, ParseError } from "../common/errors.ts";
import { describeFsError } from "../common/fs_errors.ts";
import { WG_KEY_PATTERN } from "../wg/constants.ts";
import type { ConfiguredPeer } from "./configured_peer.ts";
import { isDevNull, joinPath, listWinners } from "./config_dirs.ts";
import { endpointSchema, fieldOf, ifaceNameSchema, publicKeySchema } from "./fields.ts";
import { parseConfig, readRegularText } from "./read_file.ts";

/** One file's text and the name its errors and positions carry. */
export interface NetdevText {
  /** The path (or any name), used in `source:line`. */
  source: string;
  /** The file's content; a leading UTF-8 byte-order mark is dropped. */
  text: string;
}

/** What a secret assignment held, for the checks that need it; never the value. */
export type SecretShape = "empty" | "zero" | "key" | "invalid";

/**
 * One `key=value` line of a section, key and value trimmed. A secret
 * (`PrivateKey=`, `PresharedKey=`, MACsec's `Key=`: every `…Key` but
 * `PublicKey`) keeps only its {@link SecretShape}, never the value.
 */
export type NetdevEntry =
  | { key: string; line: number; value: string }
  | { key: string; line: number; secret: SecretShape };

/** One section header and the assignments under it, up to the next header or file end. */
export interface NetdevSection {
  /** The name between the brackets, as written (compared case-sensitively). */
  name: string;
  /** The file the header is in. */
  source: string;
  /** 1-based line of the header. */
  line: number;
  entries: NetdevEntry[];
}

/** What a netdev's files say, as far as this tool needs it. */
export interface Netdev {
  /** The first `Kind=` that names a kind networkd knows, or `null`. */
  kind: string | null;
  /** The last `Name=`, or `null` when none is set (or the last one is empty). */
  name: string | null;
  /**
   * For a `Kind=wireguard` netdev with a private key: its peers, in file
   * order. `null` for any other netdev, and for a WireGuard one without a
   * private key, which networkd ignores as a whole.
   */
  peers: ConfiguredPeer[] | null;
  /** It has a `[Match]` condition, which is not evaluated here (see the module's note). */
  conditional: boolean;
}

/** The kinds systemd 252 knows (`netdev_kind_table`); any other `Kind=` is ignored. */
const KINDS: ReadonlySet<string> = new Set([
  "bareudp",
  "batadv",
  "bond",
  "bridge",
  "dummy",
  "erspan",
  "fou",
  "geneve",
  "gre",
  "gretap",
  "ifb",
  "ip6gre",
  "ip6gretap",
  "ip6tnl",
  "ipip",
  "ipoib",
  "ipvlan",
  "ipvtap",
  "l2tp",
  "macsec",
  "macvlan",
  "macvtap",
  "netdevsim",
  "nlmon",
  "sit",
  "tap",
  "tun",
  "vcan",
  "veth",
  "vlan",
  "vrf",
  "vti",
  "vti6",
  "vxcan",
  "vxlan",
  "wireguard",
  "wlan",
  "xfrm",
]);

/** The all-zero key, which networkd treats as no key at all (`eqzero()`). */
const ZERO_KEY = `${"A".repeat(43)}=`;

/** systemd's WHITESPACE, what `strstrip()` removes; JS `trim()` removes more. */
const LEADING_SPACE = /^[ \t\n\r]+/;
const TRAILING_SPACE = /[ \t\n\r]+$/;

/** systemd's `read_line()` ends a line at `\n`, `\r\n`, `\r` or NUL. */
const EOL = /\r\n|[\r\n\0]/;

function strip(s: string): string {
  return s.replace(LEADING_SPACE, "").replace(TRAILING_SPACE, "");
}

/** A key whose value is secret: every `…Key` but the public one. */
function isSecretKey(key: string): boolean {
  return key.endsWith("Key") && key !== "PublicKey";
}

function shapeOf(value: string): SecretShape {
  if (value === "") return "empty";
  if (!WG_KEY_PATTERN.test(value)) return "invalid";
  return value === ZERO_KEY ? "zero" : "key";
}

/** True when `line` ends in an unescaped backslash: an odd run of them. */
function continues(line: string): boolean {
  let run = 0;
  while (run < line.length && line[line.length - 1 - run] === "\\") run++;
  return run % 2 === 1;
}

/**
 * Parses the text of a netdev, its main file followed by its drop-ins, into
 * sections, as systemd's `config_parse()` reads unit files:
 *
 * - a UTF-8 byte-order mark at the start of a file is dropped;
 * - a line whose first non-blank character is `#` or `;` is a comment, also
 *   in the middle of a continued line; there are no comments after a value;
 * - a line ending in `\` continues on the next, the `\` becoming a space;
 *   such a line's position is its first line;
 * - blanks around a line, a key and a value are stripped, nothing else:
 *   quotes are part of the value;
 * - `[Name]` starts a section; the name is case-sensitive and kept as
 *   written. Each file starts outside any section, and assignments outside
 *   one are ignored, as are lines without `=`;
 * - `key=value` is split at the first `=`; keys are case-sensitive.
 *
 * Every header yields a section, so a repeated header yields two: whether
 * they merge (`[NetDev]`) or not (`[WireGuardPeer]`) is up to the reader.
 * Secret values are replaced by their {@link SecretShape}.
 *
 * @throws {ParseError} for a section header without its closing `]`, which
 *   makes networkd refuse the whole file
 */
export function parseNetdev(files: readonly NetdevText[]): NetdevSection[] {
  const sections: NetdevSection[] = [];
  for (const { source, text } of files) {
    let section: NetdevSection | null = null;
    const logical = (content: string, line: number) => {
      const l = strip(content);
      if (l === "") return;
      if (l.startsWith("[")) {
        if (!l.endsWith("]")) {
          throw new ParseError({ source, line }, "section header has no closing ']'");
        }
        section = { name: l.slice(1, -1), source, line, entries: [] };
        sections.push(section);
        return;
      }
      const eq = l.indexOf("=");
      if (eq < 0 || section === null) return;
      const key = strip(l.slice(0, eq));
      const value = strip(l.slice(eq + 1));
      section.entries.push(
        isSecretKey(key) ? { key, line, secret: shapeOf(value) } : { key, line, value },
      );
    };
    const lines = text.replace(/^\uFEFF/, "").split(EOL);
    let pending: { content: string; line: number } | null = null;
    for (const [index, raw] of lines.entries()) {
      const first = raw.replace(LEADING_SPACE, "")[0];
      if (first === "#" || first === ";") continue;
      const content: string = pending === null ? raw : pending.content + raw;
      const line: number = pending === null ? index + 1 : pending.line;
      if (continues(content)) {
        pending = { content: `${content.slice(0, -1)} `, line };
        continue;
      }
      pending = null;
      logical(content, line);
    }
    // A continuation at the end of the file is parsed as it stands.
    if (pending !== null) logical(pending.content, pending.line);
  }
  return sections;
}

// Messages never repeat the value: it is a key or an address.
const publicKey = publicKeySchema.check(
  z.refine((v) => v !== ZERO_KEY, {
    error: "is the all-zero key, which networkd takes as no key",
  }),
);

const absolutePath = z.string().check(z.refine((v) => v.startsWith("/"), {
  error: "is not an absolute path",
}));

function at(source: string, line: number): string {
  return `${source}:${line}`;
}

/** The entries of every section named exactly `name`, in order. */
function entriesOf(sections: readonly NetdevSection[], name: string) {
  return sections.filter((s) => s.name === name).flatMap((s) =>
    s.entries.map((entry) => ({ entry, source: s.source }))
  );
}

/**
 * What a netdev's sections (from {@link parseNetdev}) mean to networkd:
 *
 * - `[NetDev] Kind=`: the first value that names a known kind wins; an
 *   unknown one is ignored, and so is a later, different one.
 * - `[NetDev] Name=`: the last assignment wins; an empty one clears it.
 *   Only a WireGuard netdev's name is checked, and it must be there.
 * - `[WireGuard] PrivateKey=` / `PrivateKeyFile=`: without a (non-zero) key
 *   or a key file, networkd ignores the netdev, and `peers` is `null`. The
 *   key file is not read: networkd would also ignore the netdev if it could
 *   not read it, which this tool cannot know without holding the key.
 * - Each `[WireGuardPeer]` header is a peer. `PublicKey=` is required, the
 *   last one winning; `Endpoint=`: the last non-empty one wins (an empty one
 *   does not reset it in systemd 252).
 *
 * Sections and keys of other kinds are not looked at.
 *
 * @throws {ParseError} for a WireGuard netdev with a missing or bad `Name=`,
 *   a bad `PrivateKey=`, `PrivateKeyFile=`, `PublicKey=` or `Endpoint=`, or
 *   a peer without `PublicKey=`
 */
export function interpretNetdev(sections: readonly NetdevSection[]): Netdev {
  const conditional = sections.some((s) => s.name === "Match" && s.entries.length > 0);
  let kind: string | null = null;
  let kindAt: { source: string; line: number } | null = null;
  let name: { value: string; source: string; line: number } | null = null;
  for (const { entry, source } of entriesOf(sections, "NetDev")) {
    if (!("value" in entry)) continue;
    if (entry.key === "Kind" && KINDS.has(entry.value) && kind === null) {
      kind = entry.value;
      kindAt = { source, line: entry.line };
    } else if (entry.key === "Name") {
      name = entry.value === "" ? null : { value: entry.value, source, line: entry.line };
    }
  }
  if (kind !== "wireguard" || kindAt === null) {
    return { kind, name: name?.value ?? null, peers: null, conditional };
  }
  if (name === null) {
    throw new ParseError({ ...kindAt, field: "Name" }, "a Kind=wireguard netdev has no Name=");
  }
  const iface = fieldOf(ifaceNameSchema, name.value, { ...name, field: "Name" });
  if (!hasPrivateKey(sections)) return { kind, name: iface, peers: null, conditional };
  const peers = sections.filter((s) => s.name === "WireGuardPeer").map((s) => peerOf(s, iface));
  return { kind, name: iface, peers, conditional };
}

/** Whether `[WireGuard]` leaves networkd a private key, checking what is set. */
function hasPrivateKey(sections: readonly NetdevSection[]): boolean {
  let inline = false;
  let file = false;
  for (const { entry, source } of entriesOf(sections, "WireGuard")) {
    const position = { source, line: entry.line, field: entry.key };
    if (entry.key === "PrivateKey" && "secret" in entry) {
      if (entry.secret === "invalid") {
        throw new ParseError(
          position,
          "is not a WireGuard key (44 characters of base64 ending in '=')",
        );
      }
      inline = entry.secret === "key";
    } else if (entry.key === "PrivateKeyFile" && "value" in entry) {
      if (entry.value !== "") fieldOf(absolutePath, entry.value, position);
      file = entry.value !== "";
    }
  }
  return inline || file;
}

/** The peer of one `[WireGuardPeer]` section. */
function peerOf(section: NetdevSection, iface: string): ConfiguredPeer {
  const { source } = section;
  let key: string | null = null;
  let endpointAt: string | null = null;
  for (const entry of section.entries) {
    if (!("value" in entry)) continue;
    const position = { source, line: entry.line, field: entry.key };
    if (entry.key === "PublicKey") {
      key = entry.value === "" ? null : fieldOf(publicKey, entry.value, position);
    } else if (entry.key === "Endpoint" && entry.value !== "") {
      fieldOf(endpointSchema, entry.value, position);
      endpointAt = at(source, entry.line);
    }
  }
  if (key === null) {
    throw new ParseError(
      { source, line: section.line, field: "PublicKey" },
      "[WireGuardPeer] has no PublicKey=",
    );
  }
  return { iface, publicKey: key, endpointAt, at: at(source, section.line) };
}

/**
 * The files ending in `suffix` in `dirs`, as `conf_files_list_strv()` lists
 * them: not hidden, regular files and links only.
 */
function listConfFiles(dirs: readonly string[], suffix: string): Promise<[string, string][]> {
  return listWinners(
    dirs,
    (e) => !e.name.startsWith(".") && e.name.endsWith(suffix) && (e.isFile || e.isSymlink),
    "networkd directory",
  );
}

/**
 * A file's text, or `null` when it masks its name (empty, or a symlink to
 * `/dev/null`) or is gone (a dangling symlink), which networkd skips too.
 */
async function readUnlessMasked(path: string): Promise<string | null> {
  try {
    const info = await Deno.lstat(path);
    if (info.isSymlink && await isDevNull(path)) return null;
    const text = await readRegularText(path);
    return text === "" ? null : text;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw new ConfigError(`${path}: cannot read networkd file: ${describeFsError(error)}`, {
      cause: error,
    });
  }
}

/**
 * Reads every `.netdev` in `dirs` (highest priority first) with its `<name>.netdev.d/*.conf` drop-ins, and
 * returns the peers of every netdev with `Kind=wireguard`, in the order of
 * the netdevs' basenames and then of their `[WireGuardPeer]` sections.
 *
 * @throws {ConfigError} (exit code 2) for a directory or file that cannot be
 *   read, or a file that does not parse; a missing directory is no error
 */
export async function readNetworkd(dirs: readonly string[]): Promise<ConfiguredPeer[]> {
  const peers: ConfiguredPeer[] = [];
  const claimed = new Set<string>();
  for (const [basename, path] of await listConfFiles(dirs, ".netdev")) {
    const main = await readUnlessMasked(path);
    if (main === null) continue;
    const files: NetdevText[] = [{ source: path, text: main }];
    const dropinDirs = dirs.map((dir) => joinPath(dir, `${basename}.d`));
    for (const [, dropin] of await listConfFiles(dropinDirs, ".conf")) {
      const text = await readUnlessMasked(dropin);
      if (text !== null) files.push({ source: dropin, text });
    }
    const netdev = parseConfig(() => interpretNetdev(parseNetdev(files)));
    // A WireGuard netdev networkd ignores (no private key) claims no name;
    // nor does one with a [Match] this reader does not evaluate: on this
    // host it may not apply, and a later one of the same name may.
    if (netdev.kind === null || netdev.name === null) continue;
    if (netdev.kind === "wireguard" && netdev.peers === null) continue;
    if (claimed.has(netdev.name)) continue;
    if (!netdev.conditional) claimed.add(netdev.name);
    if (netdev.peers !== null) peers.push(...netdev.peers);
  }
  return peers;
}
