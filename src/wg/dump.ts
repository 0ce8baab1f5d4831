/**
 * Parses `wg show <iface> dump` and `wg show all dump` into typed interfaces
 * and peers. Every field is checked with zod; output that does not fit is a
 * {@link ParseError} naming the line and the field, so a surprise in `wg`'s
 * output stops the cycle before anything is changed.
 *
 * The interface's private key is checked for shape and then dropped: nothing
 * downstream needs it, so it is never held.
 *
 * @module
 */
import * as z from "../common/z.ts";
import { ParseError } from "../common/errors.ts";
import { IFACE_NAME_PATTERN, WG_KEY_PATTERN, WG_KEY_SOURCE } from "./constants.ts";
import { redactText } from "./redact.ts";

/** One peer of a WireGuard interface, as the kernel (or wireguard-go) holds it. */
export interface WgPeer {
  /** Base64 public key; identifies the peer. */
  publicKey: string;
  /** Base64 preshared key, or `null` when none is set. Secret. */
  presharedKey: string | null;
  /** `ip:port` or `[ip]:port` as printed by wg, or `null`. Never log it. */
  endpoint: string | null;
  /** Allowed IPs in the order wg lists them. */
  allowedIps: string[];
  /** Unix seconds of the latest completed handshake; 0 means never. */
  latestHandshake: number;
  /** Bytes received from the peer. */
  rxBytes: number;
  /** Bytes sent to the peer. */
  txBytes: number;
  /** Persistent keepalive interval in seconds, or `null` when off. */
  persistentKeepalive: number | null;
}

/** One WireGuard interface with its peers. */
export interface WgInterface {
  /** Interface name, e.g. `wg0`. */
  name: string;
  /** The interface's own public key, or `null` when it has no private key yet. */
  publicKey: string | null;
  /** UDP listen port (0 when not yet bound). */
  listenPort: number;
  /** Firewall mark, or `null` when off. */
  fwmark: number | null;
  /** Peers in dump order. */
  peers: WgPeer[];
}

const NONE = "(none)";
const NONE_RE = String.raw`\(none\)`;

/** A string of the given shape, turned into something else. */
const shaped = <T>(pattern: RegExp, convert: (v: string) => T, error?: string) =>
  z.pipe(z.string().check(z.regex(pattern, { error })), z.transform(convert));

const orNull = (v: string) => (v === NONE ? null : v);

const keyOrNone = z.pipe(
  z.union([z.literal(NONE), z.string().check(z.regex(WG_KEY_PATTERN))], {
    error: "expected a base64 key or (none)",
  }),
  z.transform(orNull),
);

const publicKey = z.string().check(z.regex(WG_KEY_PATTERN, {
  error: "expected a base64 public key",
}));

const u64 = shaped(/^\d{1,20}$/, Number, "expected an unsigned integer")
  .check(z.refine(Number.isSafeInteger, { error: "number is too large" }));

const port = shaped(/^\d{1,5}$/, Number, "expected a port number")
  .check(z.refine((n) => n <= 65535, { error: "port is above 65535" }));

const keepalive = z.union([
  z.pipe(z.literal("off"), z.transform(() => null)),
  shaped(/^\d{1,5}$/, Number).check(z.refine((n) => n >= 1 && n <= 65535)),
], { error: "expected off or 1-65535 seconds" });

const fwmark = z.union([
  z.pipe(z.literal("off"), z.transform(() => null)),
  shaped(/^0x[0-9a-fA-F]{1,8}$/, (v) => parseInt(v, 16)),
  shaped(/^\d{1,10}$/, Number),
], { error: "expected off or a mark" });

const IPV4 = String
  .raw`(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`;
const IPV6 = String.raw`[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*`;
const ENDPOINT = new RegExp(`^(?:${IPV4}|\\[${IPV6}(?:%[A-Za-z0-9_.-]+)?\\]):\\d{1,5}$`);
const CIDR4 = new RegExp(`^${IPV4}/(?:3[0-2]|[12]?\\d)$`);
const CIDR6 = new RegExp(`^${IPV6}/(?:12[0-8]|1[01]\\d|[1-9]?\\d)$`);

// The value is an address: the message must not repeat it.
const endpoint = z.pipe(
  z.union([z.literal(NONE), z.string().check(z.regex(ENDPOINT))], {
    error: "expected ip:port, [ip]:port or (none)",
  }),
  z.transform(orNull),
);

const allowedIps = z.pipe(
  z.string().check(z.refine((v) => v === NONE || v.split(",").every(isCidr), {
    // Which entry, never its text: a field that is not what it should be may
    // hold anything, a key that slid over from its neighbour included.
    error: (issue) => badCidr(String(issue.input)),
  })),
  z.transform((v) => (v === NONE ? [] : v.split(","))),
);

function isCidr(cidr: string): boolean {
  return CIDR4.test(cidr) || CIDR6.test(cidr);
}

function badCidr(list: string): string {
  const entries = list.split(",");
  const bad = entries.findIndex((c) => !isCidr(c));
  return `entry ${bad + 1} of ${entries.length} (${
    entries[bad]?.length ?? 0
  } characters) is not a CIDR`;
}

const ifaceName = z.string().check(
  z.regex(IFACE_NAME_PATTERN, { error: "expected an interface name" }),
);

// Column names follow wg(8)'s description of `dump`.
const INTERFACE_COLUMNS = ["private-key", "public-key", "listen-port", "fwmark"] as const;
const PEER_COLUMNS = [
  "public-key",
  "preshared-key",
  "endpoint",
  "allowed-ips",
  "latest-handshake",
  "transfer-rx",
  "transfer-tx",
  "persistent-keepalive",
] as const;

/**
 * A parse error in `wg`'s output: the run layer names the command that
 * printed it. Problems describe a value, never quote it; redacted all the
 * same, in case a schema's message ever does.
 */
function dumpError(line: number, field: string, problem: string): ParseError {
  return new ParseError({ source: "wg output", line, field }, redactText(problem));
}

function field<T extends z.ZodMiniType>(
  schema: T,
  value: string,
  line: number,
  name: string,
): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw dumpError(line, name, result.error.issues[0]?.message ?? "invalid");
  }
  return result.data;
}

function parseInterfaceFields(name: string, cols: string[], line: number): WgInterface {
  // The private key is validated for shape only and then dropped.
  field(keyOrNone, cols[0], line, INTERFACE_COLUMNS[0]);
  return {
    name,
    publicKey: field(keyOrNone, cols[1], line, INTERFACE_COLUMNS[1]),
    listenPort: field(port, cols[2], line, INTERFACE_COLUMNS[2]),
    fwmark: field(fwmark, cols[3], line, INTERFACE_COLUMNS[3]),
    peers: [],
  };
}

// The detailed schema of a peer line, field by field: it names the column
// that does not fit.
const peerColumns = z.tuple([publicKey, keyOrNone, endpoint, allowedIps, u64, u64, u64, keepalive]);

// The same rules as one pattern for the whole line. Checking a line with one
// regex schema allocates far less than eight field schemas, which matters at
// tens of thousands of peers; a line that fails it, or a number out of range,
// goes through the detailed schema for the error message.
const KEY = WG_KEY_SOURCE;
const CIDR = String.raw`(?:${IPV4}/(?:3[0-2]|[12]?\d)|${IPV6}/(?:12[0-8]|1[01]\d|[1-9]?\d))`;
const peerLinePattern = z.string().check(z.regex(
  new RegExp(
    String.raw`^${KEY}\t(?:${NONE_RE}|${KEY})\t(?:${NONE_RE}|${ENDPOINT.source.slice(1, -1)})` +
      String
        .raw`\t(?:${NONE_RE}|${CIDR}(?:,${CIDR})*)\t\d{1,20}\t\d{1,20}\t\d{1,20}\t(?:off|\d{1,5})$`,
  ),
));

function parsePeerFields(cols: string[], line: number, raw: string): WgPeer {
  if (peerLinePattern.safeParse(raw).success) {
    const [handshake, rx, tx] = [Number(cols[4]), Number(cols[5]), Number(cols[6])];
    const keepaliveSeconds = cols[7] === "off" ? null : Number(cols[7]);
    const inRange = Number.isSafeInteger(handshake) && Number.isSafeInteger(rx) &&
      Number.isSafeInteger(tx) &&
      (keepaliveSeconds === null || (keepaliveSeconds >= 1 && keepaliveSeconds <= 65535));
    if (inRange) {
      return {
        publicKey: cols[0],
        presharedKey: cols[1] === NONE ? null : cols[1],
        endpoint: cols[2] === NONE ? null : cols[2],
        allowedIps: cols[3] === NONE ? [] : cols[3].split(","),
        latestHandshake: handshake,
        rxBytes: rx,
        txBytes: tx,
        persistentKeepalive: keepaliveSeconds,
      };
    }
  }
  return parsePeerColumns(cols, line);
}

/**
 * The field-by-field parse of a peer line's columns: slower, but it names
 * the column that does not fit. Exported so tests can check that the fast
 * path accepts nothing this one refuses, and reads the same values.
 *
 * @throws {ParseError} naming the line and column
 */
export function parsePeerColumns(cols: string[], line: number): WgPeer {
  const result = peerColumns.safeParse(cols);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw dumpError(line, PEER_COLUMNS[Number(issue.path[0])] ?? "line", issue.message);
  }
  const [key, psk, ep, ips, handshake, rx, tx, keepaliveSeconds] = result.data;
  return {
    publicKey: key,
    presharedKey: psk,
    endpoint: ep,
    allowedIps: ips,
    latestHandshake: handshake,
    rxBytes: rx,
    txBytes: tx,
    persistentKeepalive: keepaliveSeconds,
  };
}

/** An interface as its own dump line gives it, before its peers. */
export type WgInterfaceHead = Omit<WgInterface, "peers">;

/** What reading a dump hands on, line by line. */
export interface DumpVisitor {
  /**
   * An interface's own line; its peers follow. A promise it returns is
   * awaited before the next line is read.
   */
  iface(head: WgInterfaceHead): void | Promise<void>;
  /** A peer of the interface last handed to {@link iface}, and its line number. */
  peer(peer: WgPeer, line: number): void;
}

/**
 * Parses a dump one line at a time and hands each interface and peer on,
 * keeping none: the memory of a read does not grow with its peers. A peer
 * listed twice is not caught here (that takes a set of every key); see
 * {@link DumpCollector}.
 *
 * `named`: the output of `wg show NAME dump` (no name column). Else that of
 * `wg show all dump`, whose lines start with the interface name; every line
 * is checked, but only the interfaces in `only` (all when `null`) are
 * handed on.
 */
export class DumpParser {
  #line = 0;
  #current: string | null = null;
  #skipping = false;
  readonly #started = new Set<string>();

  constructor(
    private readonly source: { named: string } | { only: ReadonlySet<string> | null },
  ) {}

  /**
   * Parses the next line.
   *
   * @throws {ParseError} when it does not fit
   */
  line(raw: string, visit: DumpVisitor): void | Promise<void> {
    const line = ++this.#line;
    const cols = raw.split("\t");
    if ("named" in this.source) {
      if (line === 1) {
        columns(cols, INTERFACE_COLUMNS.length, line, "interface");
        return visit.iface(parseInterfaceFields(this.source.named, cols, 1));
      }
      columns(cols, PEER_COLUMNS.length, line, "peer");
      visit.peer(parsePeerFields(cols, line, raw), line);
      return;
    }
    const name = field(ifaceName, cols[0], line, "interface");
    if (name !== this.#current) {
      if (this.#started.has(name)) {
        throw dumpError(line, "interface", `${name} is listed again after another interface`);
      }
      columns(cols, INTERFACE_COLUMNS.length + 1, line, "interface");
      this.#started.add(name);
      this.#current = name;
      const head = parseInterfaceFields(name, cols.slice(1), line);
      this.#skipping = this.source.only !== null && !this.source.only.has(name);
      return this.#skipping ? undefined : visit.iface(head);
    }
    columns(cols, PEER_COLUMNS.length + 1, line, "peer");
    const peer = parsePeerFields(cols.slice(1), line, raw.slice(name.length + 1));
    if (!this.#skipping) visit.peer(peer, line);
  }

  /**
   * Checks the end of the output.
   *
   * @throws {ParseError} when a named dump had no interface line
   */
  end(): void {
    if ("named" in this.source && this.#line === 0) {
      throw dumpError(1, "line", "empty output, expected an interface line");
    }
  }
}

/** Throws unless `cols` holds the `expected` columns of a `kind` line. */
function columns(cols: string[], expected: number, line: number, kind: string): void {
  if (cols.length !== expected) {
    throw dumpError(line, "line", `expected ${expected} ${kind} columns, got ${cols.length}`);
  }
}

/** The error for a peer listed a second time on `iface`, on `line`. */
export function duplicatePeer(iface: string, line: number): ParseError {
  return dumpError(line, "public-key", `peer listed twice on ${iface}`);
}

/** A visitor that keeps every interface and peer, and refuses a peer listed twice. */
export class DumpCollector implements DumpVisitor {
  readonly interfaces: WgInterface[] = [];
  #seen = new Set<string>();

  iface(head: WgInterfaceHead): void {
    this.interfaces.push({ ...head, peers: [] });
    this.#seen = new Set();
  }

  peer(peer: WgPeer, line: number): void {
    const iface = this.interfaces.at(-1)!;
    if (this.#seen.has(peer.publicKey)) throw duplicatePeer(iface.name, line);
    this.#seen.add(peer.publicKey);
    iface.peers.push(peer);
  }
}

/** Formats peers back into `wg show <iface> dump` lines (used by tests and tools). */
export function formatInterfaceDump(iface: WgInterface, privateKey: string | null): string {
  const head = [
    privateKey ?? NONE,
    iface.publicKey ?? NONE,
    iface.listenPort,
    iface.fwmark === null ? "off" : `0x${iface.fwmark.toString(16)}`,
  ];
  const lines = [head.join("\t")];
  for (const p of iface.peers) {
    lines.push([
      p.publicKey,
      p.presharedKey ?? NONE,
      p.endpoint ?? NONE,
      p.allowedIps.length === 0 ? NONE : p.allowedIps.join(","),
      p.latestHandshake,
      p.rxBytes,
      p.txBytes,
      p.persistentKeepalive ?? "off",
    ].join("\t"));
  }
  return lines.join("\n") + "\n";
}
