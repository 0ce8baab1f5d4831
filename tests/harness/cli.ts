/**
 * Runs the real `wg-reinstate` CLI (`deno run src/main.ts`) as a child
 * process, optionally with a shifted wall clock and a different PATH.
 *
 * @module
 */
import { sh, type ShResult } from "./sh.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const SHIFT = new URL("./shift_clock.ts", import.meta.url).pathname;

/**
 * The run-time paths each subcommand writes, which default to the host's own
 * /var/run/wg-reinstate. A test that names none of them gets them under one
 * private directory of its process instead, so no test touches the host's
 * state (scripts/dev.sh test checks that it stays untouched).
 */
const STATE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  run: ["--status-file", "--lock-dir", "--key-dir"],
  daemon: ["--status-file", "--lock-dir", "--key-dir"],
  status: ["--status-file"],
};
let stateDir: string | null = null;

/** `args` with every state path it does not name put under this process's own directory. */
function withPrivateState(args: readonly string[]): string[] {
  const missing = (STATE_FLAGS[args[0]] ?? []).filter((flag) => !args.includes(flag));
  if (missing.length === 0 || args.includes("--help")) return [...args];
  if (stateDir === null) {
    const dir = Deno.makeTempDirSync({ prefix: "wr-state-" });
    stateDir = dir;
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  }
  const paths: Record<string, string> = {
    "--status-file": `${stateDir}/status.json`,
    "--lock-dir": stateDir,
    "--key-dir": stateDir,
  };
  return [...args, ...missing.flatMap((flag) => [flag, paths[flag]])];
}

/** How to run the CLI. */
export interface CliOptions {
  /** Seconds to move the CLI's wall clock forward. */
  clockShift?: number;
  /** How much faster the CLI's monotonic clock runs. */
  monotonicSpeed?: number;
  /** Directories put in front of PATH (e.g. a wrapper `wg`). */
  pathPrefix?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** V8 flags for the CLI's runtime, e.g. `--max-semi-space-size=1`. */
  v8Flags?: string;
  /** Runs the CLI in this network namespace (a kernel interface is only seen there). */
  netns?: string;
  /** What to run instead of src/main.ts, e.g. the bundle's entry (scripts/release/bundle.ts). */
  entry?: string;
  /** A command that runs the rest, e.g. `unshare` with a mount of its own. */
  wrap?: readonly string[];
}

/** The command line that starts the CLI, for tests that need to spawn it themselves. */
export function cliCommand(
  args: readonly string[],
  options: CliOptions = {},
): { cmd: string[]; env: Record<string, string> } {
  const shifted = options.clockShift !== undefined || options.monotonicSpeed !== undefined;
  const preload = shifted ? ["--preload", SHIFT] : [];
  const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1", ...options.env };
  if (options.clockShift !== undefined) {
    env.WG_REINSTATE_TEST_CLOCK_SHIFT = String(options.clockShift);
  }
  if (options.monotonicSpeed !== undefined) {
    env.WG_REINSTATE_TEST_MONOTONIC_SPEED = String(options.monotonicSpeed);
  }
  if (options.pathPrefix) env.PATH = `${options.pathPrefix}:${env.PATH}`;
  const v8 = options.v8Flags ? [`--v8-flags=${options.v8Flags}`] : [];
  const netns = options.netns ? ["ip", "netns", "exec", options.netns] : [];
  return {
    cmd: [
      ...(options.wrap ?? []),
      ...netns,
      Deno.execPath(),
      "run",
      "--allow-all",
      ...v8,
      ...preload,
      options.entry ?? MAIN,
      ...withPrivateState(args),
    ],
    env,
  };
}

/** A finished CLI run. */
export interface CliResult extends ShResult {
  /**
   * Its log: stderr (warnings and errors), then stdout (debug and info) unless
   * stdout carried a `--json` document. The CLI writes the two streams apart
   * (procd and journald file them at different priorities), so their order
   * relative to each other is lost.
   */
  log: string;
}

/** Runs the CLI to completion; never throws on a non-zero exit. */
export async function runCli(
  args: readonly string[],
  options: CliOptions = {},
): Promise<CliResult> {
  const { cmd, env } = cliCommand(args, options);
  const result = await sh(cmd, { allowFail: true, env });
  return { ...result, log: result.stderr + (args.includes("--json") ? "" : result.stdout) };
}

/** A running CLI process whose output is read as it comes. */
export class CliProcess {
  readonly child: Deno.ChildProcess;
  #pending: Promise<void>[];
  #changed: (() => void) | null = null;
  #open = 2;
  /** Everything read from stderr so far (warnings and errors). */
  stderr = "";
  /** Everything read from stdout so far (debug and info). */
  stdout = "";
  /** Both streams as they arrived: the whole log. */
  log = "";

  /** Starts the CLI. */
  constructor(args: readonly string[], options: CliOptions = {}) {
    const { cmd, env } = cliCommand(args, options);
    this.child = new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#pending = [
      this.#drain(this.child.stdout, (t) => (this.stdout += t)),
      this.#drain(this.child.stderr, (t) => (this.stderr += t)),
    ];
  }

  async #drain(stream: ReadableStream<Uint8Array>, add: (text: string) => void): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      add(text);
      this.log += text;
      this.#changed?.();
    }
    this.#open--;
    this.#changed?.();
  }

  /** Waits until `pattern` matches the log (all of it so far), or throws. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.log)) {
      if (this.#open === 0) throw new Error(`output ended before ${pattern}:\n${this.log}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${pattern}:\n${this.log}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#changed = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#changed = null;
    }
  }

  /** Reads the rest of the output and waits for the process to end. */
  async wait(): Promise<Deno.CommandStatus> {
    await Promise.all(this.#pending);
    return await this.child.status;
  }

  /** Sends `signal` and waits for the process to end; returns its status. */
  stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch { /* already gone */ }
    return this.wait();
  }
}
