/**
 * The `wg-reinstate` entry point: parses the command line, loads settings,
 * sets up logging and dispatches to a subcommand through {@link COMMANDS}.
 * It holds no logic of its own.
 *
 * @module
 */
import { parseCommandLine } from "./cli/args.ts";
import { type Invocation, realWg, type Subcommand } from "./cli/command.ts";
import { configCommand } from "./cli/config.ts";
import { daemonCommand } from "./cli/daemon.ts";
import { logger, startLogging, stopLogging } from "./cli/log.ts";
import { runCommand } from "./cli/run.ts";
import { statusCommand } from "./cli/status.ts";
import { ExitCode, WgReinstateError } from "./common/errors.ts";
import { VERSION } from "./common/version.ts";
import { writeAllSync } from "./common/write_all.ts";
import { loadSettings } from "./config/load.ts";
import type { Settings } from "./config/schema.ts";
import { REJECT_AFTER_TIME } from "./wg/constants.ts";
import { redactText } from "./wg/redact.ts";

/** The subcommands, by name, in the order `--help` lists them. */
export const COMMANDS: Readonly<Record<string, Subcommand>> = {
  run: runCommand,
  status: statusCommand,
  daemon: daemonCommand,
  config: configCommand,
};

/** How `main` reaches the outside world; tests replace parts of it. */
export interface MainIo {
  wgFor: Invocation["wgFor"];
  now: () => number;
  print: (text: string) => void;
}

const processIo: MainIo = {
  wgFor: realWg,
  now: () => Date.now() / 1000,
  print: (text) => writeAllSync(Deno.stdout, text),
};

function warnIfShortThreshold(settings: Settings): void {
  if (settings.staleAfter < REJECT_AFTER_TIME) {
    logger("config").warning(
      "stale-after is {staleAfter} s, below {limit} s: live sessions will be cut (forced)",
      { staleAfter: settings.staleAfter, limit: REJECT_AFTER_TIME },
    );
  }
}

/**
 * Runs the CLI with `argv` (without the program name) and returns the exit
 * code. Every failure ends as one line on stderr: through the logger once it
 * is set up, plain before.
 */
export async function main(argv: readonly string[], io: MainIo = processIo): Promise<number> {
  let logging = false;
  try {
    const cmd = parseCommandLine(argv, COMMANDS);
    if (cmd.kind === "help") {
      io.print(cmd.text + "\n");
      return ExitCode.ok;
    }
    if (cmd.kind === "version") {
      io.print(`wg-reinstate ${VERSION}\n`);
      return ExitCode.ok;
    }
    const sources = { configPath: cmd.configPath, uciPath: cmd.uciPath };
    const load = async () => {
      const settings = await loadSettings(sources, cmd.flags);
      startLogging(settings);
      logging = true;
      warnIfShortThreshold(settings);
      return settings;
    };
    const settings = await load();
    return await COMMANDS[cmd.command].run({
      settings,
      json: cmd.json,
      sources,
      reload: load,
      wgFor: io.wgFor,
      now: io.now,
      print: io.print,
    });
  } catch (error) {
    const known = error instanceof WgReinstateError;
    const message = known ? error.message : `internal error: ${String(error)}`;
    if (logging) logger("main").error("{error}", { error: message });
    else writeAllSync(Deno.stderr, `wg-reinstate: ${redactText(message)}\n`);
    return known ? error.exitCode : ExitCode.runtime;
  } finally {
    if (logging) stopLogging();
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
