/**
 * The host's connection-tracking table also remembers where clients
 * connected from: this module deletes, after a purge, the tracked flows of a
 * WireGuard interface's UDP listen port with conntrack-tools' `conntrack -D`,
 * and counts them for `status`. It returns values and logs nothing: a
 * cycle's lines are worded in purge/report.ts, `status`'s by
 * {@link flowStatusLine}.
 *
 * Flows are matched by the port, never by a client's address: a command
 * line is readable by every local user in `/proc/<pid>/cmdline`, and the
 * addresses never pass through this program at all. The price is that the
 * live clients' flows of the port go too (docs/safety.md, "Connection
 * tracking"). `conntrack` writes the flows it deleted or listed, addresses
 * and all, to stdout: that is read and dropped, never kept.
 *
 * @module
 */
import { type BoundedCall, runBounded, spawnBounded } from "./command.ts";
import { redactText } from "./redact.ts";

/**
 * Where `conntrack` is looked for, in order: Debian and OpenWrt install it in
 * /usr/sbin. Not by name from PATH: a cron job's PATH lacks /usr/sbin, and
 * where PATH found one outside the runtime's permissions, Deno would ask at
 * a terminal. The permissions (scripts/release/runtime_flags.ts) name these
 * paths and no name: Deno prints a notice at every start when a name it
 * allows is not in PATH, and most hosts have no `conntrack`.
 */
export const CONNTRACK_PATHS: readonly string[] = [
  "/usr/sbin/conntrack",
  "/usr/bin/conntrack",
  "/sbin/conntrack",
];

/** How long one `conntrack` call may take, in milliseconds. */
export const CONNTRACK_TIMEOUT_MS = 5_000;

/** The kernel's table as text, read when `conntrack` is missing (this network namespace's). */
export const NF_CONNTRACK_FILE = "/proc/net/nf_conntrack";

/** How to install conntrack-tools, as `status` says it. */
export const CONNTRACK_INSTALL = "apt-get install conntrack; OpenWrt: opkg install conntrack";

/** Characters of `conntrack`'s error output that one message quotes. */
const DETAIL_MAX_CHARS = 200;

/** How to run `conntrack`. */
export interface ConntrackOptions {
  /** The programs to try, in order; the first that exists is used. Default {@link CONNTRACK_PATHS}. */
  programs?: readonly string[];
  /** The time limit of one call, in milliseconds; default {@link CONNTRACK_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Read when `conntrack` is missing, to count flows; default {@link NF_CONNTRACK_FILE}. */
  procFile?: string;
}

/** What deleting the flows of some UDP ports came to. */
export interface FlowOutcome {
  /**
   * `done`: every call ran (one that matched nothing too); `missing`:
   * `conntrack` is not installed, nothing was deleted; `failed`: a call
   * failed or timed out (after a timeout the rest are not made).
   */
  result: "done" | "missing" | "failed";
  /** The UDP ports whose flows were to go. */
  ports: number[];
  /** Flows deleted, as `conntrack` counted them. */
  deleted: number;
  /** The first failure, one line without an address; `null` unless `failed`. */
  error: string | null;
}

/** How many flows the UDP ports have in the table, for `status`. */
export interface FlowCount {
  /** Whether `conntrack` is installed (`failed`: it could not be run at all). */
  conntrack: "installed" | "missing" | "failed";
  ports: number[];
  /**
   * Tracked UDP flows from or to the ports (IPv4 and IPv6): from
   * `conntrack -L`, or else from {@link NF_CONNTRACK_FILE}; `null` when
   * neither could be read.
   */
  flows: number | null;
  /** Why {@link flows} is `null`, one line without an address; `null` when it is not. */
  error: string | null;
}

/** The host's connection-tracking table, as a purge and `status` reach it. */
export interface Flows {
  /** Deletes the flows of UDP ports (see {@link forgetFlows}). */
  forget(ports: readonly number[]): Promise<FlowOutcome>;
  /** Counts them, changing nothing (see {@link countFlows}). */
  count(ports: readonly number[]): Promise<FlowCount>;
}

/** The host's own table, through the real `conntrack`. */
export const HOST_FLOWS: Flows = {
  forget: (ports) => forgetFlows(ports),
  count: (ports) => countFlows(ports),
};

/** Which side of a flow's original direction the port is on. */
export type FlowSide = "dst" | "src";

/**
 * The arguments of one `conntrack` call for one port, family and side: a
 * number is all that goes in, so no address can. Both families are named,
 * so that IPv6 flows go too whatever conntrack's default family is.
 */
export function conntrackArgs(
  op: "delete" | "list",
  family: "ipv4" | "ipv6",
  side: FlowSide,
  port: number,
): string[] {
  return [
    op === "delete" ? "-D" : "-L",
    "-f",
    family,
    "-p",
    "udp",
    `--orig-port-${side}`,
    String(port),
  ];
}

// The client sends to the port; or this side started the flow from it (a
// peer it dials, a keepalive sent after the client's entry had expired).
const CALLS = (["ipv4", "ipv6"] as const).flatMap((family) =>
  (["dst", "src"] as const).map((side) => ({ family, side }))
);

/** The listen ports worth asking about: bound (not 0), each once, in order. */
function validPorts(ports: readonly number[]): number[] {
  return [...new Set(ports)].filter((p) => Number.isInteger(p) && p >= 1 && p <= 65535);
}

/**
 * Deletes every tracked UDP flow whose original direction goes to or comes
 * from one of `ports` (IPv4 and IPv6), live clients' too: their next packet
 * makes a new entry. A missing `conntrack` is no error (most hosts have
 * none); a call that matched nothing ("0 flow entries have been deleted",
 * exit 1) neither. Each call is bounded by the time limit; after a timeout
 * the rest are not made. Never throws for what `conntrack` does.
 */
export async function forgetFlows(
  ports: readonly number[],
  options: ConntrackOptions = {},
): Promise<FlowOutcome> {
  const outcome: FlowOutcome = {
    result: "done",
    ports: validPorts(ports),
    deleted: 0,
    error: null,
  };
  const runner = new ConntrackRunner(options);
  for (const port of outcome.ports) {
    for (const { family, side } of CALLS) {
      const call = await runner.run(conntrackArgs("delete", family, side, port));
      if (call.kind === "missing") return { ...outcome, result: "missing" };
      if (call.kind === "ok") {
        outcome.deleted += call.count;
        continue;
      }
      outcome.result = "failed";
      outcome.error ??= call.error;
      if (call.kind === "timeout") return outcome;
    }
  }
  return outcome;
}

/**
 * Counts the tracked UDP flows of `ports`, changing nothing: with
 * `conntrack -L` when it is installed, or else from {@link NF_CONNTRACK_FILE}
 * when it can be read (the released program may not read /proc: then the
 * count is `null`).
 */
export async function countFlows(
  ports: readonly number[],
  options: ConntrackOptions = {},
): Promise<FlowCount> {
  const count: FlowCount = {
    conntrack: "installed",
    ports: validPorts(ports),
    flows: 0,
    error: null,
  };
  const runner = new ConntrackRunner(options);
  let flows = 0;
  for (const port of count.ports) {
    for (const { family, side } of CALLS) {
      const call = await runner.run(conntrackArgs("list", family, side, port));
      if (call.kind === "missing") {
        return { ...count, conntrack: "missing", ...await countInFile(count.ports, options) };
      }
      if (call.kind !== "ok") {
        const conntrack = call.kind === "not-run" ? "failed" : "installed";
        return { ...count, conntrack, flows: null, error: call.error };
      }
      flows += call.count;
    }
  }
  return { ...count, flows };
}

async function countInFile(
  ports: readonly number[],
  options: ConntrackOptions,
): Promise<Pick<FlowCount, "flows" | "error">> {
  const path = options.procFile ?? NF_CONNTRACK_FILE;
  try {
    return { flows: countProcFlows(await Deno.readTextFile(path), ports), error: null };
  } catch (error) {
    const why = error instanceof Deno.errors.NotCapable
      ? "not allowed by the runtime's permissions"
      : error instanceof Deno.errors.NotFound
      ? "no such file (no connection tracking, or no /proc view of it)"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : redactAddresses(error instanceof Error ? error.message : String(error));
    return { flows: null, error: `cannot read ${path}: ${why}` };
  }
}

/**
 * Counts the UDP entries of `/proc/net/nf_conntrack` text whose original
 * direction (the first `sport=` and `dport=` of the line) has one of
 * `ports` at either end. Pure.
 */
export function countProcFlows(text: string, ports: readonly number[]): number {
  const wanted = new Set(ports.map(String));
  let n = 0;
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    // `ipv4 2 udp 17 29 src=… dst=… sport=… dport=… …`
    if (fields[2] !== "udp") continue;
    const sport = fields.find((f) => f.startsWith("sport="))?.slice("sport=".length);
    const dport = fields.find((f) => f.startsWith("dport="))?.slice("dport=".length);
    if ((sport !== undefined && wanted.has(sport)) || (dport !== undefined && wanted.has(dport))) {
      n++;
    }
  }
  return n;
}

/** What one `conntrack` call came to. */
type CallResult =
  | { kind: "ok"; count: number }
  | { kind: "missing" }
  | { kind: "not-run" | "failed" | "timeout"; error: string };

/** Runs `conntrack`, finding the program on its first call and keeping it for the rest. */
class ConntrackRunner {
  readonly #programs: readonly string[];
  readonly #timeoutMs: number;
  #found: string | null = null;

  constructor(options: ConntrackOptions) {
    this.#programs = options.programs ?? CONNTRACK_PATHS;
    this.#timeoutMs = options.timeoutMs ?? CONNTRACK_TIMEOUT_MS;
  }

  async run(args: string[]): Promise<CallResult> {
    const child = this.#spawn(args);
    if ("kind" in child) return child;
    const call = await runBounded(child, {
      timeoutMs: this.#timeoutMs,
      stop: undefined,
      stdoutCap: 0,
    });
    return judged(call, this.#timeoutMs);
  }

  #spawn(args: string[]): Deno.ChildProcess | CallResult {
    let notAllowed: string | null = null;
    const candidates = this.#found === null ? this.#programs : [this.#found];
    for (const program of candidates) {
      try {
        const child = spawnBounded(program, args);
        this.#found = program;
        return child;
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) continue;
        if (
          error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
        ) {
          notAllowed ??= program;
          continue;
        }
        const message = redactAddresses(error instanceof Error ? error.message : String(error));
        return { kind: "not-run", error: `could not start ${program}: ${message}` };
      }
    }
    if (notAllowed === null) return { kind: "missing" };
    return {
      kind: "not-run",
      error: `not allowed to run ${notAllowed} by the runtime's permissions`,
    };
  }
}

// conntrack-tools ends every -D and -L with this line on stderr.
const COUNT_LINE = /(\d+) flow entr(?:y|ies) ha(?:s|ve) been (?:deleted|shown)/;

/** A finished call judged: its count, or why it failed. */
function judged(call: BoundedCall, timeoutMs: number): CallResult {
  if (call.endedBy !== null) {
    const limit = `${Math.round(timeoutMs / 100) / 10} s`;
    return { kind: "timeout", error: `conntrack did not finish within ${limit}; ended` };
  }
  const counted = call.stderr.text.match(COUNT_LINE);
  const count = counted === null ? null : Number(counted[1]);
  // Nothing matched: conntrack says so and exits 1.
  if (call.code === 0 || (call.code === 1 && count === 0)) return { kind: "ok", count: count ?? 0 };
  return { kind: "failed", error: `conntrack failed: ${errorDetail(call.stderr.text, call.code)}` };
}

/** conntrack's error output as one line, without the program's banner or any address. */
function errorDetail(stderr: string, code: number): string {
  const line = stderr.trim().split(/\r?\n/).map((l) =>
    l.replace(/^conntrack v[\d.]+ \([^)]*\): /, "")
  )
    .join("; ").replace(/\p{Cc}+/gu, " ");
  const clean = redactAddresses(line);
  if (clean === "") return `exit code ${code}`;
  return clean.length <= DETAIL_MAX_CHARS ? clean : `${clean.slice(0, DETAIL_MAX_CHARS)}…`;
}

// Bare addresses too, not only wg's `addr:port` endpoints: conntrack prints
// `src=192.0.2.1`. An IPv6 address has at least two colons between hex runs.
const IPV4 = /\b(?:\d{1,3}\.){3}\d{1,3}\b/g;
// An IPv4-mapped one (`::ffff:192.0.2.1`) ends in dotted decimal.
const IPV6 =
  /(?:[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){1,6}:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?:%[\w.-]+)?/g;

/** Text with every IPv4 and IPv6 address (and endpoint, and key) taken out. */
export function redactAddresses(text: string): string {
  return redactText(text).replace(IPV6, "(address)").replace(IPV4, "(address)");
}

/** `UDP port 51820`, `UDP ports 51820, 51821`. */
export function portsText(ports: readonly number[]): string {
  return `UDP ${ports.length === 1 ? "port" : "ports"} ${ports.join(", ")}`;
}

/**
 * What `status` says of the table: one line, or none when no interface has
 * a bound port. Pure.
 */
export function flowStatusLine(count: FlowCount): string {
  if (count.ports.length === 0) return "";
  const where = portsText(count.ports);
  switch (count.conntrack) {
    case "installed":
      return count.flows === null
        ? `Connection tracking: the flows of ${where} could not be counted (${count.error})\n`
        : `Connection tracking: ${count.flows} tracked ${count.flows === 1 ? "flow" : "flows"} ` +
          `on ${where}; a purge deletes them with conntrack\n`;
    case "missing":
      return `Connection tracking: conntrack is not installed: a purge leaves the flows of ` +
        `${where} until they expire` + (count.flows === null ? "" : ` (${count.flows} now)`) +
        `; install it (${CONNTRACK_INSTALL}), or keep the port untracked (README)\n`;
    case "failed":
      return `Connection tracking: ${count.error}\n`;
  }
}
