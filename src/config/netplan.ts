/**
 * Reads the WireGuard peers that netplan YAML sets up (netplan.io 0.106, as
 * in Debian 12), following netplan's own rules, so that a site-to-site peer
 * this host dials keeps the endpoint its netplan file gives it.
 *
 * netplan's rules, as far as peers go:
 * - Files are `*.yaml` in `/run/netplan`, `/etc/netplan` and `/lib/netplan`
 *   (glob(3): no `.yml`, no hidden files). A file shadows every file of the
 *   same basename in a lower-priority directory; the survivors are parsed
 *   in strcmp order of basename, whatever their directory.
 * - Definitions with the same ID amend each other across files: a scalar
 *   such as `mode` takes the last value, and a later `peers:` list is
 *   appended to the earlier ones.
 * - Every scalar is a string (netplan reads libyaml's raw scalars), so the
 *   YAML is parsed with the failsafe schema; only the first document of a
 *   file counts, and a repeated key is not an error (netplan handles each).
 *
 * netplan 0.106 skips a later `peers:` list whose length equals the number
 * of peers already collected (a guard against its own multi-pass parsing),
 * so a same-length redefinition silently loses peers. This reader does not
 * copy that quirk: it takes the union of every list. A peer read here is
 * only ever protected (its endpoint kept), never dropped, so an extra one
 * costs nothing, while a missed one would lose a site link's endpoint.
 *
 * Private and preshared keys are never read, and no key or endpoint is ever
 * put into an error message.
 *
 * @module
 */
import {
  type Alias,
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseAllDocuments,
  type Scalar,
  type YAMLMap,
  type YAMLSeq,
} from "yaml";
import * as z from "../common/z.ts";
import { ConfigError, ParseError } from "../common/errors.ts";
import { describeFsError } from "../common/fs_errors.ts";
import { IFACE_NAME_PATTERN } from "../wg/constants.ts";
import type { ConfiguredPeer } from "./configured_peer.ts";
import { isDevNull, listWinners } from "./config_dirs.ts";
import { endpointSchema, ifaceNameSchema, NETPLAN_FILE, publicKeySchema } from "./fields.ts";
import { NotRegularFileError, parseConfig, readRegularText } from "./read_file.ts";

/** One tunnel of one netplan file, as far as WireGuard peers go. */
export interface NetplanTunnel {
  /** The tunnel's ID under `network.tunnels`, which is its interface name. */
  id: string;
  /** The last `mode` this file gives the tunnel, or `null` when it gives none. */
  mode: string | null;
  /**
   * The peers of every `peers:` list of the tunnel in this file, in order;
   * empty when this file's `mode` is not `wireguard` (they are not read).
   */
  peers: ConfiguredPeer[];
}

/** What one netplan file says about tunnels. */
export interface NetplanFile {
  /** Tunnels in order of first appearance, one entry per ID. */
  tunnels: NetplanTunnel[];
}

/** A node of a parsed document, aliases included. */
type AnyNode = Node | Alias;

const mapping = z.custom<YAMLMap>((v) => isMap(v), { error: "expected a mapping" });
const list = z.custom<YAMLSeq>((v) => isSeq(v), { error: "expected a list" });
/** A scalar's text; with the failsafe schema every scalar's value is a string. */
const str = z.pipe(
  z.custom<Scalar>((v) => isScalar(v) && typeof v.value === "string", {
    error: "expected a string",
  }),
  z.transform((s: Scalar) => String(s.value)),
);
const tunnelId = z.pipe(str, ifaceNameSchema);
const publicKey = z.pipe(str, publicKeySchema);
const endpoint = z.pipe(
  str,
  endpointSchema,
);

/** The problem for one of the yaml package's error codes (its messages quote the text). */
function yamlProblem(code: string): string {
  return `not valid YAML (${code.toLowerCase().replaceAll("_", " ")})`;
}

/** A tunnel's nodes, gathered from every mention of its ID in one file. */
interface TunnelNodes {
  id: string;
  idNode: AnyNode;
  mode: string | null;
  /** Each `peers:` value with its field path. */
  peerLists: { node: AnyNode; field: string }[];
}

/**
 * Parses one netplan YAML file: the tunnels it mentions, with the peers of
 * those whose `mode` is `wireguard` or not given here (another file may
 * give it). Other sections (`ethernets`, …) and unknown keys are ignored.
 *
 * @param source the file's path, for `at`, `endpointAt` and error messages
 * @throws {ParseError} `file:line: field: problem` for a YAML syntax error
 *   or a field that does not fit; never with a key or an address in it
 */
export function parseNetplan(text: string, source: string): NetplanFile {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { schema: "failsafe", uniqueKeys: false, lineCounter });
  // netplan loads one document (yaml_parser_load once): the rest are never read.
  const first = Array.isArray(docs) ? docs[0] : undefined;
  if (first === undefined) return { tunnels: [] };
  const doc: Document = first;
  const lineOf = (node: AnyNode): number => lineCounter.linePos(node.range?.[0] ?? 0).line;
  const error = doc.errors[0];
  if (error !== undefined) {
    const line = lineCounter.linePos(error.pos[0]).line;
    const field = fieldAt(doc, error.pos[0]);
    throw new ParseError({ source, line, field }, yamlProblem(error.code));
  }
  /** Validates `node` (an alias stands for what it names) or throws naming `field`. */
  const check = <T>(schema: z.ZodMiniType<T>, node: AnyNode, field?: string): T => {
    const result = schema.safeParse(deref(doc, node));
    if (!result.success) {
      const problem = result.error.issues[0]?.message ?? "invalid value";
      throw new ParseError({ source, line: lineOf(node), field }, problem);
    }
    return result.data;
  };

  // No content at all, or a bare `---`: nothing configured.
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === "")) {
    return { tunnels: [] };
  }
  const tunnels = new Map<string, TunnelNodes>();
  const root = check(mapping, doc.contents);
  for (const network of values(root, "network")) {
    for (const section of values(check(mapping, network, "network"), "tunnels")) {
      for (const pair of check(mapping, section, "network.tunnels").items) {
        if (!isScalar(pair.key) && !isAlias(pair.key)) {
          throw new ParseError(
            { source, line: lineOf(pair.key as AnyNode), field: "network.tunnels" },
            "expected a tunnel ID",
          );
        }
        const keyNode: AnyNode = pair.key;
        // A valid name or not, the ID is what netplan merges by.
        const id = check(str, keyNode, "network.tunnels");
        // The ID goes into messages only once it is a plain interface name.
        const path = `network.tunnels.${IFACE_NAME_PATTERN.test(id) ? id : "(ID)"}`;
        const tunnel = tunnels.get(id) ?? { id, idNode: keyNode, mode: null, peerLists: [] };
        tunnels.set(id, tunnel);
        // `? wg0` without a value has none: the error is then on the key's line.
        const body = check(mapping, (pair.value ?? keyNode) as AnyNode, path);
        for (const mode of values(body, "mode")) tunnel.mode = check(str, mode, `${path}.mode`);
        for (const peers of values(body, "peers")) {
          tunnel.peerLists.push({ node: peers, field: `${path}.peers` });
        }
      }
    }
  }

  const result: NetplanTunnel[] = [];
  for (const tunnel of tunnels.values()) {
    const wanted = tunnel.mode === "wireguard" ||
      (tunnel.mode === null && tunnel.peerLists.length > 0);
    if (!wanted) {
      result.push({ id: tunnel.id, mode: tunnel.mode, peers: [] });
      continue;
    }
    const iface = check(tunnelId, tunnel.idNode, "network.tunnels");
    const peers: ConfiguredPeer[] = [];
    for (const { node, field } of tunnel.peerLists) {
      check(list, node, field).items.forEach((item, index) => {
        const at = `${field}[${index}]`;
        const peer = check(mapping, item as AnyNode, at);
        const keys = single(peer, "keys");
        if (keys === undefined) {
          throw new ParseError(
            { source, line: lineOf(item as AnyNode), field: `${at}.keys` },
            "missing",
          );
        }
        const pub = single(check(mapping, keys, `${at}.keys`), "public");
        if (pub === undefined) {
          throw new ParseError(
            { source, line: lineOf(keys), field: `${at}.keys.public` },
            "missing",
          );
        }
        const endpointNode = single(peer, "endpoint");
        if (endpointNode !== undefined) check(endpoint, endpointNode, `${at}.endpoint`);
        peers.push({
          iface,
          publicKey: check(publicKey, pub, `${at}.keys.public`),
          endpointAt: endpointNode === undefined ? null : `${source}:${lineOf(endpointNode)}`,
          at: `${source}:${lineOf(item as AnyNode)}`,
        });
      });
    }
    result.push({ id: iface, mode: tunnel.mode, peers });
  }
  return { tunnels: result };

  /** The values of every pair of `map` whose key is `key` (netplan handles each). */
  function values(map: YAMLMap, key: string): AnyNode[] {
    return map.items.flatMap((pair) => {
      const k = deref(doc, pair.key as AnyNode);
      return isScalar(k) && k.value === key && pair.value !== null ? [pair.value as AnyNode] : [];
    });
  }

  /** The last value of `key` in `map`: a repeated scalar key's last value wins. */
  function single(map: YAMLMap, key: string): AnyNode | undefined {
    return values(map, key).at(-1);
  }
}

/** What an alias names (itself when it names nothing); any other node as it is. */
function deref(doc: Document, node: AnyNode): AnyNode {
  return isAlias(node) ? node.resolve(doc) ?? node : node;
}

/**
 * The dotted path of the innermost mapping key whose entry holds `offset`,
 * to name the field of a syntax error; undefined outside any entry.
 */
/** A key that can be named in a message: a netplan key or an interface name, nothing longer. */
const SAFE_KEY = /^[A-Za-z0-9_-]{1,15}$/;

function fieldAt(doc: Document, offset: number): string | undefined {
  let node: unknown = doc.contents;
  let path: string | undefined;
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => {
        const start = (p.key as Node | null)?.range?.[0];
        const end = (p.value as Node | null)?.range?.[2] ?? (p.key as Node | null)?.range?.[2];
        return start !== undefined && end !== undefined && start <= offset && offset <= end;
      });
      if (pair === undefined || !isScalar(pair.key)) return path;
      const key = String(pair.key.value);
      // A key that may hold an address or a key (a typo such as `endpoint:1.2.3.4:5`) ends the path.
      if (!SAFE_KEY.test(key)) return path;
      path = path === undefined ? key : `${path}.${key}`;
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => {
        const range = (item as Node | null)?.range;
        return range != null && range[0] <= offset && offset <= range[2];
      });
      if (index < 0) return path;
      path = `${path ?? ""}[${index}]`;
      node = node.items[index];
    } else {
      return path;
    }
  }
}

/** A netplan file's text; a link to /dev/null (a mask) reads as empty, as netplan reads it. */
async function readNetplanText(path: string): Promise<string> {
  try {
    return await readRegularText(path);
  } catch (error) {
    if (error instanceof NotRegularFileError && await isDevNull(path)) return "";
    throw new ConfigError(`${path}: cannot read netplan file: ${describeFsError(error)}`, {
      cause: error,
    });
  }
}

/**
 * Reads `*.yaml` in `dirs` (highest priority first: /run, /etc, /lib) and
 * returns the peers of every `network.tunnels.<id>` with `mode: wireguard`;
 * `iface` is the tunnel's ID. A tunnel's peers from several files are all
 * returned (see the module's note on netplan's equal-length quirk).
 *
 * @throws {ConfigError} for a directory or file that cannot be read (a
 *   missing directory is skipped), or a file that does not parse
 */
export async function readNetplan(
  dirs: readonly string[],
): Promise<ConfiguredPeer[]> {
  const tunnels = new Map<string, { mode: string | null; peers: ConfiguredPeer[] }>();
  // As glob(3) matches `*.yaml` (a directory too, which then fails to read).
  const files = await listWinners(dirs, (e) => NETPLAN_FILE.test(e.name), "netplan directory");
  for (const [, path] of files) {
    const text = await readNetplanText(path);
    for (const tunnel of parseConfig(() => parseNetplan(text, path)).tunnels) {
      const merged = tunnels.get(tunnel.id) ?? { mode: null, peers: [] };
      tunnels.set(tunnel.id, merged);
      if (tunnel.mode !== null) merged.mode = tunnel.mode;
      merged.peers.push(...tunnel.peers);
    }
  }
  return [...tunnels.values()].filter((t) => t.mode === "wireguard").flatMap((t) => t.peers);
}
