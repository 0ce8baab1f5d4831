/**
 * Runs the `wg` tool through `Deno.Command`; everything it returns has been
 * parsed and checked. Its bounded runner ({@link runBounded}), which ends a
 * call's whole process group at its limit, runs `conntrack` too (conntrack.ts).
 *
 * @module
 */
import { ParseError, WgError } from "../common/errors.ts";
import { IFACE_NAME_PATTERN } from "./constants.ts";
import { redactText } from "./redact.ts";
import { DumpCollector, DumpParser, type DumpVisitor, type WgInterface } from "./dump.ts";
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
   * A stop request (SIGTERM, SIGINT; SIGHUP for `run`), best aborted with a
   * {@link StopRequest}. A call still running {@link STOP_BUDGET_MS}
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

/** How long an ended call's process group has between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 1_000;

/**
 * How long a call's pipes may wait for data after its process has exited: a
 * process it started may hold them, for ever if it left the call's group.
 * Time a line handler spends is not waiting (see {@link PipeReader}).
 */
export const PIPE_GRACE_MS = 200;

/**
 * Bytes a pipe may still deliver after its process exited: what its buffer
 * held (64 KiB by default, at most 1 MiB on Linux). More comes from a
 * process the call started, which may write for ever.
 */
const AFTER_EXIT_BYTES = 1024 * 1024;

/**
 * Bytes kept of a call's stderr, and of a `wg set`'s stdout; the rest is read
 * and dropped. A dump is read line by line and not kept (it can be 12 MB).
 */
export const OUTPUT_CAP_BYTES = 64 * 1024;

/** Characters of `wg`'s error output that one message quotes. */
export const DETAIL_MAX_CHARS = 512;

/**
 * The reason a stop request's signal is aborted with: when the request came,
 * on the monotonic clock (`performance.now()`). A `wg` call reads it to know
 * whether {@link STOP_BUDGET_MS} is spent, so that no runner needs a
 * listener of its own on the process-long stop signal.
 */
export class StopRequest extends DOMException {
  /** @param atMs when the stop was requested, in `performance.now()` milliseconds */
  constructor(readonly atMs: number = performance.now()) {
    super("stop requested", "AbortError");
  }
}

// Signals aborted with another reason carry no time: the first call to see
// one counts from then.
const firstSeen = new WeakMap<AbortSignal, number>();

/**
 * When `stop` fired, in `performance.now()` milliseconds, or `null` while it
 * has not: the time its {@link StopRequest} carries, or else the first time
 * this was asked.
 */
export function stopRequestedAt(stop: AbortSignal): number | null {
  if (!stop.aborted) return null;
  if (stop.reason instanceof StopRequest) return stop.reason.atMs;
  let at = firstSeen.get(stop);
  if (at === undefined) firstSeen.set(stop, at = performance.now());
  return at;
}

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
   * Reads as {@link show} does, but hands each interface and each peer to
   * `visit` as `wg` prints it and keeps none, so that its memory does not
   * grow with the peer count. What was visited counts only once this
   * resolves: a read that fails part-way has visited some peers. A peer
   * listed twice is not caught (see DumpParser).
   */
  scan(interfaces: "all" | readonly string[], visit: DumpVisitor): Promise<void>;
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

/**
 * Reads one interface, keeping only the peers in `keys`: a check of the
 * peers a purge touched costs memory for them alone.
 *
 * @throws {WgError} as {@link Wg.show} does, and for a kept peer listed twice
 */
export async function showPeers(
  wg: Wg,
  iface: string,
  keys: ReadonlySet<string>,
): Promise<WgInterface> {
  const collector = new DumpCollector();
  await wg.scan([iface], {
    iface: (head) => collector.iface(head),
    peer: (peer, line) => {
      if (keys.has(peer.publicKey)) collector.peer(peer, line);
    },
  });
  return collector.interfaces[0];
}

/** What a finished `wg` call left: its exit code and what was kept of its output. */
interface WgOutput {
  code: number;
  stdout: string;
  /** Whether stdout was read to its end (not cut off at a cap or by the pipe grace). */
  stdoutWhole: boolean;
  /** What the handler of its stdout lines threw, if anything (see {@link LineHandler}). */
  stdoutError: unknown;
  stderr: string;
}

/** {@link Wg} backed by the real `wg` binary. */
export class WgCommand implements Wg {
  /**
   * Installs nothing: a stop request is looked at by each call, so that a
   * runner rebuilt on every reload leaves no listener behind.
   *
   * @param options the binary, the per-call time limit and the stop request
   */
  constructor(private readonly options: WgOptions) {}

  /** @inheritdoc */
  async show(interfaces: "all" | readonly string[]): Promise<WgInterface[]> {
    const collector = new DumpCollector();
    await this.scan(interfaces, collector);
    const all = collector.interfaces;
    if (interfaces === "all" || interfaces.length === 1) return all;
    // Of several names, the ones that exist; the caller reports the others,
    // so that one missing interface does not stop the purge of the rest.
    return interfaces.flatMap((name) => all.filter((i) => i.name === name));
  }

  /** @inheritdoc */
  async scan(interfaces: "all" | readonly string[], visit: DumpVisitor): Promise<void> {
    const one = interfaces !== "all" && interfaces.length === 1 ? interfaces[0] : null;
    const args = ["show", one ?? "all", "dump"];
    const what = `wg ${args.join(" ")}`;
    const parser = new DumpParser(
      one !== null ? { named: one } : { only: interfaces === "all" ? null : new Set(interfaces) },
    );
    const out = await this.exec(args, undefined, (line) => parser.line(line, visit));
    if (out.code !== 0) await this.fail(out, what, one === null ? [] : [one]);
    whole(out, what);
    parsed(what, () => {
      if (out.stdoutError !== null) throw out.stdoutError;
      parser.end();
    });
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
    // Read loosely: ReplaceOptions may not declare the field (yet).
    return replaceByArgv(peers, options.keys ?? null, budget, async (args) => {
      const out = await this.exec(["set", iface, ...args], options.timeoutMs);
      if (out.code !== 0) await this.fail(out, `wg set ${iface}`, [iface]);
    });
  }

  /**
   * Lists the WireGuard interfaces (`wg show interfaces`). A name that user
   * input could not hold is refused as unexpected output: the names become
   * lock file paths.
   */
  async interfaces(): Promise<string[]> {
    const what = "wg show interfaces";
    const out = await this.exec(["show", "interfaces"]);
    if (out.code !== 0) await this.fail(out, what, []);
    const names = whole(out, what).split(/\s+/).filter((name) => name !== "");
    const bad = names.findIndex((name) => !IFACE_NAME_PATTERN.test(name));
    if (bad >= 0) {
      // The name itself is not repeated: it is wg's output, and could be anything.
      throw new WgError(
        "unexpected-output",
        `unexpected output from ${what}: name ${bad + 1} (${
          names[bad].length
        } characters) is not an interface name`,
      );
    }
    return names;
  }

  /**
   * Runs `wg` in a session of its own (`detached`), so that a terminal's
   * SIGHUP or Ctrl-C reaches this tool and never a call half-way; bounded by
   * its time limit and, after a stop request, by {@link STOP_BUDGET_MS}: at
   * either, its whole process group is ended (see {@link runBounded}).
   *
   * @throws {WgError} "timeout" when a limit fired, whatever the call's exit status
   */
  private async exec(
    args: string[],
    limitMs = this.options.timeoutMs,
    onLine: LineHandler | null = null,
  ): Promise<WgOutput> {
    const what = `wg ${args.slice(0, 2).join(" ")}`;
    const stop = this.options.stop;
    const stoppedAt = stop === undefined ? null : stopRequestedAt(stop);
    const overdue = stoppedAt !== null && performance.now() - stoppedAt >= STOP_BUDGET_MS;
    const afterStop = args[0] === "set" ? AFTER_STOP_CALL_MS : AFTER_STOP_READ_MS;
    const timeoutMs = overdue ? Math.min(limitMs, afterStop) : limitMs;
    let child: Deno.ChildProcess;
    try {
      child = spawnBounded(this.options.wgPath, args);
    } catch (error) {
      throw spawnError(error, this.options.wgPath);
    }
    const call = await runBounded(child, {
      timeoutMs,
      stop: overdue ? undefined : stop,
      stdoutCap: args[0] === "set" ? OUTPUT_CAP_BYTES : null,
      onLine,
    });
    // A result that came after a limit fired is not trusted, exit 0 or not:
    // the purge verifies what the call may have done and repairs it.
    if (call.endedBy === "limit") {
      throw timeout(what, timeoutMs, this.options.timeoutSetting ?? "time limit");
    }
    if (call.endedBy === "stop") {
      throw new WgError(
        "timeout",
        `${what} was still running ${STOP_BUDGET_MS / 1000} s after the stop request; ended`,
      );
    }
    return {
      code: call.code,
      stdout: call.stdout.text,
      stdoutWhole: call.stdout.whole,
      stdoutError: call.stdout.lineError,
      stderr: call.stderr.text,
    };
  }

  private async fail(out: WgOutput, what: string, named: string[]): Promise<never> {
    const detail = errorDetail(out.stderr) || `exit code ${out.code}`;
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

/** The stdout of a call that must be read whole (a dump, the interface list). */
function whole(out: WgOutput, what: string): string {
  if (!out.stdoutWhole) {
    throw new WgError(
      "unexpected-output",
      `unexpected output from ${what}: it did not end when wg exited (a process it started holds it open)`,
    );
  }
  return out.stdout;
}

/**
 * wg's error output as a message may quote it: one line, redacted, at most
 * {@link DETAIL_MAX_CHARS} characters. Redacted before it is cut, so that a
 * cut cannot leave part of a key that redaction would no longer recognize.
 */
function errorDetail(stderr: string): string {
  const line = redactText(stderr.trim().split(/\r?\n/).join("; ").replace(/\p{Cc}+/gu, " "));
  if (line.length <= DETAIL_MAX_CHARS) return line;
  return `${line.slice(0, DETAIL_MAX_CHARS)}… (cut at ${DETAIL_MAX_CHARS} characters)`;
}

/** What was read of one pipe. */
export interface Captured {
  /** The text kept: all of it, or the first `cap` bytes. */
  text: string;
  /** Whether the pipe was read to its end and nothing was dropped. */
  whole: boolean;
  /** What the line handler threw, if anything: no line after it was handed on. */
  lineError: unknown;
}

/**
 * Takes one line of a pipe, without its newline, as soon as it is whole; a
 * promise it returns is awaited before the pipe is read further.
 */
export type LineHandler = (line: string) => void | Promise<void>;

/** Bytes one read of a pipe takes: into one buffer, reused for the life of the call. */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * A pipe being read, keeping at most `cap` bytes (all when `null`) and
 * draining the rest; or, with a line handler, handing on each line as it
 * comes and keeping nothing. Reads go into one reused buffer, so a flood of
 * output costs no memory beyond what is kept.
 */
class PipeReader {
  readonly done: Promise<void>;
  readonly #reader: ReadableStreamBYOBReader;
  readonly #decoder = new TextDecoder();
  readonly #parts: string[] = [];
  #kept = 0;
  #dropped = false;
  #ended = false;
  #cancelled = false;
  /** The start of a line whose newline has not come yet. */
  #partial: Uint8Array | null = null;
  #lineError: unknown = null;
  /** When the pending read started; `null` while a chunk is handled. */
  #waitingSince: number | null = null;
  #exitedAt: number | null = null;
  #afterExit = 0;

  constructor(
    stream: ReadableStream<Uint8Array>,
    private readonly cap: number | null,
    private readonly onLine: LineHandler | null = null,
  ) {
    this.#reader = stream.getReader({ mode: "byob" });
    this.done = this.#read();
  }

  async #read(): Promise<void> {
    let buffer = new Uint8Array(READ_BUFFER_BYTES);
    try {
      while (true) {
        this.#waitingSince = performance.now();
        const { done, value } = await this.#reader.read(buffer);
        this.#waitingSince = null;
        if (done || value === undefined) break;
        if (this.#exitedAt !== null) this.#afterExit += value.length;
        if (this.onLine === null) this.#keep(value);
        else await this.#lines(value);
        buffer = new Uint8Array(value.buffer);
      }
      this.#ended = !this.#cancelled;
      if (this.#ended && this.#partial !== null) await this.#hand(this.#partial);
    } catch {
      // A read cut short by cancel(): what came before it is kept.
    }
  }

  // Decoded chunk by chunk: a dump of 10,000 peers is over a megabyte, and
  // this keeps the peak memory near its size.
  #keep(chunk: Uint8Array): void {
    const room = this.cap === null ? chunk.length : Math.max(0, this.cap - this.#kept);
    if (room < chunk.length) this.#dropped = true;
    if (room === 0) return;
    const part = room < chunk.length ? chunk.subarray(0, room) : chunk;
    this.#kept += part.length;
    this.#parts.push(this.#decoder.decode(part, { stream: true }));
  }

  async #lines(chunk: Uint8Array): Promise<void> {
    let start = 0;
    for (let end = chunk.indexOf(10); end >= 0; end = chunk.indexOf(10, start)) {
      const line = this.#partial === null
        ? chunk.subarray(start, end)
        : concat(this.#partial, chunk.subarray(start, end));
      this.#partial = null;
      start = end + 1;
      // Awaited only when the handler waits: a turn of the event loop per line would cost more.
      const pending = this.#hand(line);
      if (pending !== undefined) await pending;
    }
    // Copied: the buffer is read into again.
    if (start < chunk.length) {
      this.#partial = concat(this.#partial ?? new Uint8Array(), chunk.subarray(start));
    }
  }

  /** Hands on one line, decoded on its own: the string keeps no chunk alive. */
  #hand(line: Uint8Array): Promise<void> | undefined {
    if (this.#lineError !== null) return;
    // The rest is still read after an error, so that the call can end.
    const failed = (error: unknown) => void (this.#lineError = error);
    try {
      const pending = this.onLine!(this.#decoder.decode(line));
      return pending === undefined ? undefined : pending.catch(failed);
    } catch (error) {
      failed(error);
    }
  }

  /** Notes that the writing process exited: from now on, see {@link stuck}. */
  exited(): void {
    this.#exitedAt ??= performance.now();
  }

  /**
   * Whether, since the process exited, this pipe has waited
   * {@link PIPE_GRACE_MS} for data (someone else holds it open), or has
   * delivered more than its buffer could hold (someone else writes to it).
   */
  stuck(): boolean {
    const waiting = this.#waitingSince === null
      ? 0
      : performance.now() - Math.max(this.#waitingSince, this.#exitedAt ?? Infinity);
    return waiting >= PIPE_GRACE_MS || this.#afterExit > AFTER_EXIT_BYTES;
  }

  /** Stops reading: a process outside the call's group may keep the pipe open for ever. */
  async cancel(): Promise<void> {
    this.#cancelled = true;
    await this.#reader.cancel().catch(() => {});
    await this.done;
  }

  /** What was read. */
  result(): Captured {
    this.#parts.push(this.#decoder.decode());
    return {
      text: this.#parts.join(""),
      whole: this.#ended && !this.#dropped,
      lineError: this.#lineError,
    };
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** What became of one bounded call. */
export interface BoundedCall {
  /** Which limit ended it, or `null` when it exited on its own. */
  endedBy: "limit" | "stop" | null;
  /** Its exit code; meaningless when {@link endedBy} is set. */
  code: number;
  stdout: Captured;
  stderr: Captured;
}

/**
 * Starts `program` for {@link runBounded}: in a session of its own, so that
 * a terminal's signals reach the tool only and a call past its limit is
 * ended with its whole group, with stdout and stderr piped.
 *
 * @throws what Deno.Command's spawn throws (a missing or forbidden program)
 */
export function spawnBounded(program: string, args: readonly string[]): Deno.ChildProcess {
  return new Deno.Command(program, {
    args: [...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
}

/**
 * Waits for `child`, ending its process group when `timeoutMs` passes or
 * {@link STOP_BUDGET_MS} after `stop` fires: SIGTERM to the group, SIGKILL
 * {@link KILL_GRACE_MS} later, and after another grace it is no longer
 * waited for (a process stuck in the kernel). Once it has exited, its pipes
 * are read to their end unless one waits {@link PIPE_GRACE_MS} for data or
 * floods (see PipeReader's `stuck`); then the group is killed and they are
 * no longer read. Every timer and listener is gone when this returns.
 * `child` must come from {@link spawnBounded}: its process group is what is
 * ended.
 */
export async function runBounded(
  child: Deno.ChildProcess,
  limits: {
    timeoutMs: number;
    stop: AbortSignal | undefined;
    stdoutCap: number | null;
    /** Hands on stdout line by line instead of keeping it. */
    onLine?: LineHandler | null;
  },
): Promise<BoundedCall> {
  const stdout = new PipeReader(child.stdout, limits.stdoutCap, limits.onLine ?? null);
  const stderr = new PipeReader(child.stderr, OUTPUT_CAP_BYTES);
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const after = (ms: number, fn: () => void) => {
    const id = setTimeout(() => {
      timers.delete(id);
      fn();
    }, ms);
    timers.add(id);
  };
  let endedBy: BoundedCall["endedBy"] = null;
  const givenUp = Promise.withResolvers<null>();
  const signals: Promise<void>[] = [];
  const end = (why: "limit" | "stop") => {
    if (endedBy !== null) return;
    endedBy = why;
    signals.push(signalGroup(child, "SIGTERM"));
    after(KILL_GRACE_MS, () => {
      signals.push(signalGroup(child, "SIGKILL"));
      after(KILL_GRACE_MS, () => givenUp.resolve(null));
    });
  };
  after(limits.timeoutMs, () => end("limit"));
  const stop = limits.stop;
  const onStop = () => {
    const left = stopRequestedAt(stop!)! + STOP_BUDGET_MS - performance.now();
    after(Math.max(0, left), () => end("stop"));
  };
  if (stop?.aborted) onStop();
  else stop?.addEventListener("abort", onStop, { once: true });
  let status: Deno.CommandStatus | null;
  try {
    status = await Promise.race([child.status, givenUp.promise]);
  } finally {
    stop?.removeEventListener("abort", onStop);
    for (const id of timers) clearTimeout(id);
    timers.clear();
  }
  if (status === null) child.unref(); // Not reaped even after SIGKILL: let the process exit without it.
  // Whatever of the group outlived an ended call goes now, not after the grace.
  if (endedBy !== null) signals.push(signalGroup(child, "SIGKILL"));
  const pipes = Promise.all([stdout.done, stderr.done]);
  stdout.exited();
  stderr.exited();
  // What the pipes still held is read, however long its lines take to handle.
  while (!(await settlesWithin(pipes, PIPE_GRACE_MS / 4))) {
    if (!stdout.stuck() && !stderr.stuck()) continue;
    signals.push(signalGroup(child, "SIGKILL"));
    await Promise.all([stdout.cancel(), stderr.cancel()]);
    break;
  }
  await Promise.all(signals);
  return {
    endedBy,
    code: status?.code ?? -1,
    stdout: stdout.result(),
    stderr: stderr.result(),
  };
}

/** Whether `promise` settles within `ms`; the timer is cleared either way. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends `signal` to `child` and to its process group (a wrapper's children
 * too). Deno.kill of a group needs --allow-run without a list, which the
 * program does not have; the `kill` program, named in its permissions, does
 * it then: procps' wants `--` before a negative pid, BusyBox's refuses it.
 * Resolves once sent; a group already gone is fine.
 */
async function signalGroup(child: Deno.ChildProcess, signal: Deno.Signal): Promise<void> {
  try {
    child.kill(signal);
  } catch { /* exited already */ }
  try {
    Deno.kill(-child.pid, signal);
    return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) return; // ESRCH: the group is gone.
  }
  const name = signal.slice("SIG".length);
  for (const args of [["-s", name, "--", `-${child.pid}`], ["-s", name, `-${child.pid}`]]) {
    const out = await new Deno.Command("kill", {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    })
      .output().catch(() => null);
    if (out === null || out.success) return;
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
