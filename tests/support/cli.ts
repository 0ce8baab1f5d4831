/**
 * Runs the real `wg-reinstate` CLI (`deno run src/main.ts`) as a child
 * process, optionally with a shifted wall clock and a different PATH.
 *
 * @module
 */
import { sh, type ShResult } from "./lab.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const SHIFT = new URL("./shift_clock.ts", import.meta.url).pathname;

/** How to run the CLI. */
export interface CliOptions {
  /** Seconds to move the CLI's wall clock forward. */
  clockShift?: number;
  /** Directories put in front of PATH (e.g. a wrapper `wg`). */
  pathPrefix?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** V8 flags for the CLI's runtime, e.g. `--max-semi-space-size=1`. */
  v8Flags?: string;
}

/** The command line that starts the CLI, for tests that need to spawn it themselves. */
export function cliCommand(
  args: readonly string[],
  options: CliOptions = {},
): { cmd: string[]; env: Record<string, string> } {
  const preload = options.clockShift === undefined ? [] : ["--preload", SHIFT];
  const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1", ...options.env };
  if (options.clockShift !== undefined) {
    env.WG_REINSTATE_TEST_CLOCK_SHIFT = String(options.clockShift);
  }
  if (options.pathPrefix) env.PATH = `${options.pathPrefix}:${env.PATH}`;
  const v8 = options.v8Flags ? [`--v8-flags=${options.v8Flags}`] : [];
  return { cmd: [Deno.execPath(), "run", "--allow-all", ...v8, ...preload, MAIN, ...args], env };
}

/** Runs the CLI to completion; never throws on a non-zero exit. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<ShResult> {
  const { cmd, env } = cliCommand(args, options);
  return sh(cmd, { allowFail: true, env });
}
