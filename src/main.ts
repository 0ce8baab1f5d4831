/**
 * The `wg-reinstate` entry point: parses the command line, loads settings,
 * sets up logging and dispatches to a subcommand through {@link COMMANDS}.
 * It holds no logic of its own.
 *
 * Everything but the error types and the version is loaded when needed, so
 * `--version` starts about as fast and small as an empty program, and each
 * subcommand loads only its own code (see docs/benchmarks.md).
 *
 * @module
 */
import type { Invocation, Subcommand } from "./cli/subcommand.ts";
import { ExitCode, WgReinstateError } from "./common/errors.ts";
import { VERSION } from "./common/version.ts";
import { writeAllSync } from "./common/write_all.ts";
import { redactText } from "./wg/redact.ts";

/** The subcommands, by name, in the order `--help` lists them; each module loads when it runs. */
export const COMMANDS: Readonly<Record<string, () => Promise<Subcommand>>> = {
  run: async () => (await import("./commands/run_command.ts")).runCommand,
  status: async () => (await import("./commands/status_command.ts")).statusCommand,
  daemon: async () => (await import("./commands/daemon_command.ts")).daemonCommand,
  config: async () => (await import("./commands/config_command.ts")).configCommand,
};

/** How `main` reaches the outside world; tests replace parts of it. */
export interface MainIo {
  /** The `wg` to use; default the real one, as the `wg` and `wgTimeout` settings say. */
  wgFor?: Invocation["wgFor"];
  now: () => number;
  print: (text: string) => void;
  /** Writes an error line that comes before logging has started; default stderr. */
  printError?: (text: string) => void;
}

const processIo: MainIo = {
  now: () => Date.now() / 1000,
  print: (text) => writeAllSync(Deno.stdout, text),
};

/** The logging module, once logging has started: errors then go through the logger. */
type Started = { log: typeof import("./cli/log.ts") | null };

/**
 * Runs the CLI with `argv` (without the program name) and returns the exit
 * code. Every failure ends as one line on stderr: through the logger once it
 * is set up, plain before.
 */
export async function main(argv: readonly string[], io: MainIo = processIo): Promise<number> {
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    io.print(`wg-reinstate ${VERSION}\n`);
    return ExitCode.ok;
  }
  const started: Started = { log: null };
  try {
    return await dispatch(argv, io, started);
  } catch (error) {
    return reportError(error, io, started);
  } finally {
    started.log?.stopLogging();
  }
}

/** Parses the command line, loads settings, starts logging and runs the subcommand. */
async function dispatch(argv: readonly string[], io: MainIo, started: Started): Promise<number> {
  const { parseCommandLine } = await import("./cli/args.ts");
  const cmd = await parseCommandLine(argv, COMMANDS);
  if (cmd.kind === "help" || cmd.kind === "version") {
    io.print(cmd.kind === "help" ? cmd.text + "\n" : `wg-reinstate ${VERSION}\n`);
    return ExitCode.ok;
  }
  const [{ loadSettings }, logging, wgFor] = await Promise.all([
    import("./config/load.ts"),
    import("./cli/log.ts"),
    io.wgFor ?? import("./cli/subcommand.ts").then((m) => m.realWg),
  ]);
  const sources = { configPath: cmd.configPath, uciPath: cmd.uciPath };
  const logEnv = await logging.processLogEnvironment();
  const load = async () => {
    const settings = await loadSettings(sources, cmd.flags);
    // With --json, stdout carries the document: every log line goes to stderr.
    const style = logging.logStyle(settings.logTimestamps, cmd.json, logEnv);
    logging.startLogging(settings, logging.streamSink(settings.logFormat, style));
    started.log = logging;
    if (cmd.spec.purges) logging.warnAboutSettings(settings);
    return settings;
  };
  const settings = await load();
  const { now, print } = io;
  // The real table goes with the real wg: a test's FAKE wg touches neither.
  const flows = io.wgFor === undefined ? (await import("./wg/conntrack.ts")).HOST_FLOWS : null;
  return await cmd.spec.run({
    settings,
    json: cmd.json,
    peerTimes: cmd.peerTimes,
    sources,
    reload: load,
    wgFor,
    flows,
    now,
    print,
  });
}

/** Writes `error` as one line, through the logger once it has started; returns the exit code. */
function reportError(error: unknown, io: MainIo, started: Started): number {
  const known = error instanceof WgReinstateError;
  const message = known ? error.message : `internal error: ${String(error)}`;
  if (started.log !== null) started.log.logger("main").error("{error}", { error: message });
  else {
    const line = `wg-reinstate: ${redactText(message)}\n`;
    (io.printError ?? ((text) => writeAllSync(Deno.stderr, text)))(line);
  }
  return known ? error.exitCode : ExitCode.runtime;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
