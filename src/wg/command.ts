/**
 * Runs the `wg` tool through `Deno.Command`. This is the only module that
 * starts processes; everything it returns has been parsed and checked.
 *
 * @module
 */
import { ParseError, WgError } from "../common/errors.ts";
import { redactText } from "./redact.ts";
import { parseAllDump, parseInterfaceDump, type WgInterface } from "./dump.ts";
import { replaceByArgv, type ReplaceOptions, type ReplaceResult } from "./replace.ts";
import { DEFAULT_ARGV_BUDGET, type PeerConfig } from "./set_args.ts";

export type { ReplaceOptions, ReplaceResult } from "./replace.ts";
export type { PeerConfig } from "./set_args.ts";

/** How to run `wg`. */
export interface WgOptions {
  /** Path or name of the `wg` binary (looked up in PATH when it has no slash). */
  wgPath: string;
  /** Time limit for one `wg` call, in milliseconds. */
  timeoutMs: number;
  /** Bytes of argv per `wg set` process; default {@link DEFAULT_ARGV_BUDGET}. */
  argvBudget?: number;
  /** How a timeout's message names the time limit's setting; default "time limit". */
  timeoutSetting?: string;
  /**
   * A stop request (SIGTERM). A call still running {@link STOP_BUDGET_MS}
   * after it counts as hung and is ended, and calls started after that get
   * at most {@link AFTER_STOP_CALL_MS}, so a supervisor's stop timeout (30 s
   * for procd and the systemd unit) holds whatever `--wg-timeout` is. Calls
   * are sized to take about 2 s (see purge/pace.ts), so a working one is
   * never ended by this.
   */
  stop?: AbortSignal;
}

/** How long after a stop request a running `wg` call may still take. */
export const STOP_BUDGET_MS = 15_000;

/**
 * The limit of a `wg set` started once {@link STOP_BUDGET_MS} is spent (a
 * repair: 16 peers at most); a read then gets {@link AFTER_STOP_READ_MS},
 * since a large interface's dump takes longer and a repair depends on it.
 */
export const AFTER_STOP_CALL_MS = 3_000;

/** The limit of a `wg show` started once {@link STOP_BUDGET_MS} is spent. */
export const AFTER_STOP_READ_MS = 8_000;

/**
 * The `wg` operations the purge needs, typed: no caller builds argv.
 * `tests/support/fake_wg.ts` implements it in memory, with scripted faults,
 * for the unit tests.
 */
export interface Wg {
  /**
   * Reads the named interfaces, or every interface for `"all"`. One named
   * interface that does not exist is an error; of several, the missing ones
   * are left out of the result.
   */
  show(interfaces: "all" | readonly string[]): Promise<WgInterface[]>;
  /**
   * Removes each of `peers` from `iface` and adds it back with the
   * configuration given, in order, so that it comes back without an
   * endpoint. A peer's removal and re-add go to `wg` together, so it is never
   * missing between two calls (as wireguard-tools' ipc_set_device applies a
   * peer with WGPEER_REMOVE_ME followed by the same peer's configuration).
   * Stops at the first failure and says how far it got.
   */
  replacePeers(
    iface: string,
    peers: readonly PeerConfig[],
    options?: ReplaceOptions,
  ): Promise<ReplaceResult>;
  /** Lists the WireGuard interfaces (`wg show interfaces`). */
  interfaces(): Promise<string[]>;
}

interface WgOutput {
  code: number;
  stdout: string;
  stderr: string;
}

async function readText(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  const parts: string[] = [];
  for await (const chunk of stream) parts.push(decoder.decode(chunk, { stream: true }));
  parts.push(decoder.decode());
  return parts.join("");
}

/** {@link Wg} backed by the real `wg` binary. */
export class WgCommand implements Wg {
  #overdue: AbortSignal | null = null;

  /** @param options the binary, the per-call time limit and the stop request */
  constructor(private readonly options: WgOptions) {
    const stop = options.stop;
    if (stop === undefined) return;
    const overdue = new AbortController();
    this.#overdue = overdue.signal;
    // The timer starts only on a stop request, so an unstopped run holds no timer.
    const start = () => {
      const timer = setTimeout(() => overdue.abort(), STOP_BUDGET_MS);
      Deno.unrefTimer(timer);
    };
    if (stop.aborted) start();
    else stop.addEventListener("abort", start, { once: true });
  }

  /** @inheritdoc */
  async show(interfaces: "all" | readonly string[]): Promise<WgInterface[]> {
    if (interfaces !== "all" && interfaces.length === 1) {
      const name = interfaces[0];
      const out = await this.exec(["show", name, "dump"]);
      if (out.code !== 0) await this.fail(out, `wg show ${name} dump`, [name]);
      return [parsed(`wg show ${name} dump`, () => parseInterfaceDump(name, out.stdout))];
    }
    const out = await this.exec(["show", "all", "dump"]);
    if (out.code !== 0) await this.fail(out, "wg show all dump", []);
    const all = parsed("wg show all dump", () => parseAllDump(out.stdout));
    if (interfaces === "all") return all;
    // Of several names, the ones that exist; the caller reports the others,
    // so that one missing interface does not stop the purge of the rest.
    return interfaces.flatMap((name) => all.filter((i) => i.name === name));
  }

  /**
   * Replaces peers as {@link Wg.replacePeers} says, through `wg set`: as many
   * peers per process as the argv budget allows, each preshared key in a
   * file of `options.keys`, never in argv.
   */
  replacePeers(
    iface: string,
    peers: readonly PeerConfig[],
    options: ReplaceOptions = {},
  ): Promise<ReplaceResult> {
    const budget = this.options.argvBudget ?? DEFAULT_ARGV_BUDGET;
    return replaceByArgv(peers, options.keys ?? null, budget, async (args) => {
      const out = await this.exec(["set", iface, ...args], options.timeoutMs);
      if (out.code !== 0) await this.fail(out, `wg set ${iface}`, [iface]);
    });
  }

  /** @inheritdoc */
  async interfaces(): Promise<string[]> {
    const out = await this.exec(["show", "interfaces"]);
    if (out.code !== 0) await this.fail(out, "wg show interfaces", []);
    return out.stdout.split(/\s+/).filter((name) => name !== "");
  }

  private async exec(args: string[], limitMs = this.options.timeoutMs): Promise<WgOutput> {
    const what = `wg ${args.slice(0, 2).join(" ")}`;
    const overdue = this.#overdue;
    const afterStop = args[0] === "set" ? AFTER_STOP_CALL_MS : AFTER_STOP_READ_MS;
    const timeoutMs = overdue?.aborted ? Math.min(limitMs, afterStop) : limitMs;
    const limit = AbortSignal.timeout(timeoutMs);
    const signal = overdue === null || overdue.aborted ? limit : AbortSignal.any([limit, overdue]);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(this.options.wgPath, {
        args,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal,
      }).spawn();
    } catch (error) {
      throw spawnError(error, this.options.wgPath);
    }
    // Streams, not output(): a dump of 10,000 peers is over a megabyte, and
    // collecting it chunk by chunk keeps the peak memory near its size.
    const [stdout, stderr, status] = await Promise.all([
      readText(child.stdout),
      readText(child.stderr),
      child.status,
    ]);
    // A call that finished on its own just as a limit fired did its work.
    const finished = status.signal === null;
    if (limit.aborted && !finished) {
      throw timeout(what, timeoutMs, this.options.timeoutSetting ?? "time limit");
    }
    if (signal.aborted && !finished) {
      throw new WgError(
        "timeout",
        `${what} was still running ${STOP_BUDGET_MS / 1000} s after the stop request; ended`,
      );
    }
    return { code: status.code, stdout, stderr };
  }

  private async fail(out: WgOutput, what: string, named: string[]): Promise<never> {
    const detail = redactText(out.stderr.trim().split("\n").join("; ")) || `exit code ${out.code}`;
    if (/Permission denied|Operation not permitted/.test(out.stderr)) {
      throw new WgError(
        "permission",
        `${what}: permission denied; wg needs root or CAP_NET_ADMIN (${detail})`,
      );
    }
    // wg's wording for a missing interface differs between the kernel module
    // ("No such device") and a userspace implementation without the module
    // ("Protocol not supported"), so ask which interfaces exist instead.
    if (named.length > 0) {
      const existing = await this.interfaces().catch(() => null);
      const missing = existing === null ? [] : named.filter((n) => !existing.includes(n));
      if (missing.length > 0) throw noInterface(missing);
    }
    throw new WgError("failed", `${what} failed: ${detail}`);
  }
}

/** Runs a parser over `wg`'s output; a {@link ParseError} becomes a {@link WgError} naming the call. */
function parsed<T>(what: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    const { line, field } = error.position;
    const where = field === undefined ? `line ${line}` : `line ${line}, field ${field}`;
    throw new WgError(
      "unexpected-output",
      `unexpected output from ${what}: ${where}: ${error.problem}`,
      {
        cause: error,
      },
    );
  }
}

function timeout(what: string, ms: number, setting: string): WgError {
  const limit = `${Math.round(ms / 100) / 10} s`;
  return new WgError("timeout", `${what} did not finish within ${limit} (${setting})`);
}

function noInterface(names: string[]): WgError {
  return new WgError(
    "no-interface",
    `WireGuard interface ${names.join(", ")} does not exist (see: wg show interfaces)`,
  );
}

function spawnError(error: unknown, wgPath: string): WgError {
  if (error instanceof Deno.errors.NotFound) {
    return new WgError(
      "not-found",
      `wg binary not found at "${wgPath}": install wireguard-tools or point --wg at it`,
      { cause: error },
    );
  }
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return new WgError(
      "permission",
      `not allowed to run "${wgPath}": ${redactText(String(error))}`,
      { cause: error },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/os error 7\b|Argument list too long/.test(message)) {
    return new WgError("argv-too-long", "wg argument list too long", { cause: error });
  }
  return new WgError("failed", `could not start "${wgPath}": ${redactText(message)}`, {
    cause: error,
  });
}
