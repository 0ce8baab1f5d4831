/**
 * The `wg-reinstate` entry point: parses the command line, loads settings,
 * sets up logging and hands over to a command. It holds no logic of its own.
 *
 * @module
 */
import { parseCommandLine } from "./cli/args.ts";
import {
  type CommandContext,
  configCommand,
  cycleOptions,
  runCommand,
  statusCommand,
} from "./cli/commands.ts";
import { loadSettings, uciPathFor } from "./config/load.ts";
import { readUci, uciEnabled } from "./config/uci_settings.ts";
import type { Settings } from "./config/schema.ts";
import { runDaemon } from "./daemon.ts";
import {
  ConfigError,
  DumpParseError,
  ExitCode,
  RuntimeError,
  SecretFileError,
  WgError,
} from "./errors.ts";
import { logger, startLogging, stopLogging } from "./log.ts";
import { runCycle } from "./purge/cycle.ts";
import { PeerObservations } from "./purge/observations.ts";
import { REJECT_AFTER_TIME } from "./purge/plan.ts";
import { redactText } from "./redact.ts";
import { VERSION } from "./version.ts";
import { WgCommand } from "./wg/run.ts";

const encoder = new TextEncoder();

function print(text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) offset += Deno.stdout.writeSync(bytes.subarray(offset));
}

function printError(message: string): void {
  const bytes = encoder.encode(`wg-reinstate: ${redactText(message)}\n`);
  let offset = 0;
  while (offset < bytes.length) offset += Deno.stderr.writeSync(bytes.subarray(offset));
}

function wallClock(): number {
  return Date.now() / 1000;
}

function contextFor(settings: Settings): CommandContext {
  return {
    wg: new WgCommand({ wgPath: settings.wg, timeoutMs: settings.wgTimeout * 1000 }),
    now: wallClock,
    print,
  };
}

function warnIfShortThreshold(settings: Settings): void {
  if (settings.staleAfter < REJECT_AFTER_TIME) {
    logger("config").warning(
      "stale-after is {staleAfter} s, below {limit} s: live sessions will be cut (forced)",
      { staleAfter: settings.staleAfter, limit: REJECT_AFTER_TIME },
    );
  }
}

/**
 * Runs the CLI with `argv` (without the program name) and returns the exit code.
 * Every failure ends as one line on stderr.
 */
export async function main(argv: readonly string[]): Promise<number> {
  let logging = false;
  try {
    const cmd = parseCommandLine(argv);
    if (cmd.kind === "help") {
      print(cmd.text + "\n");
      return ExitCode.ok;
    }
    if (cmd.kind === "version") {
      print(`wg-reinstate ${VERSION}\n`);
      return ExitCode.ok;
    }
    const sources = { configPath: cmd.configPath, uciPath: cmd.uciPath };
    const reload = () => loadSettings(sources, cmd.flags);
    const settings = await reload();
    startLogging(settings);
    logging = true;
    warnIfShortThreshold(settings);
    if (cmd.command === "config") {
      const uci = await uciPathFor(sources);
      const enabled = uci === null ? null : uciEnabled(await readUci(uci), uci);
      return await configCommand(settings, enabled, print);
    }
    if (cmd.command === "run") return await runCommand(settings, cmd.json, contextFor(settings));
    if (cmd.command === "status") {
      return await statusCommand(settings, cmd.json, contextFor(settings));
    }
    // The daemon's memory of peer states, kept across cycles and reloads.
    const observe = {
      observations: new PeerObservations(),
      monotonic: () => performance.now() / 1000,
    };
    await runDaemon(settings, {
      log: logger("daemon"),
      cycle: (current) =>
        runCycle(
          contextFor(current).wg,
          cycleOptions(current, wallClock, observe),
          logger("purge"),
        ),
      reload: async () => {
        const next = await reload();
        startLogging(next);
        warnIfShortThreshold(next);
        return next;
      },
    });
    return ExitCode.ok;
  } catch (error) {
    const known = error instanceof ConfigError || error instanceof WgError ||
      error instanceof DumpParseError || error instanceof RuntimeError ||
      error instanceof SecretFileError;
    const message = known ? (error as Error).message : `internal error: ${String(error)}`;
    if (logging) logger("main").error("{error}", { error: message });
    else printError(message);
    return error instanceof ConfigError ? ExitCode.usage : ExitCode.runtime;
  } finally {
    if (logging) stopLogging();
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
