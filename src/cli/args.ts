/**
 * Command-line parsing with `node:util`'s strict `parseArgs`. Flags become a
 * {@link SettingsLayer} checked by the same schema as the config files. The
 * options every subcommand shares live here; each subcommand's own options
 * and help live in its file.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError } from "../common/errors.ts";
import { RUN_DIR, STATUS_FILE } from "../common/paths.ts";
import type { SettingsInput, SettingsLayer } from "../config/schema.ts";
import { DEFAULT_ARGV_BUDGET } from "../purge/set_args.ts";

/** `parseArgs` option specs. */
export type Options = NonNullable<ParseArgsConfig["options"]>;

/** What a subcommand declares about its command line. */
export interface CommandSpec {
  /** One line for the main help. */
  summary: string;
  /** What the command does: the paragraph after its usage line. */
  description: string;
  /** Options beyond the shared ones. */
  options: Options;
  /** Help lines for those options. */
  optionsHelp: string;
}

/** Loads a subcommand's spec (its module is loaded only when needed). */
export type SpecLoader<S extends CommandSpec = CommandSpec> = () => Promise<S>;

/** What the command line asks for. */
export type CommandLine<S extends CommandSpec = CommandSpec> =
  | { kind: "help"; text: string }
  | { kind: "version" }
  | {
    kind: "command";
    command: string;
    /** The subcommand named. */
    spec: S;
    /** `--config FILE`, or null. */
    configPath: string | null;
    /** `--uci FILE`, or null. */
    uciPath: string | null;
    /** The settings given as flags. */
    flags: SettingsLayer;
    /** `--json`: machine-readable output on stdout. */
    json: boolean;
  };

/** Flags shared by every command. */
const SHARED_OPTIONS: Options = {
  config: { type: "string" },
  uci: { type: "string" },
  network: { type: "string" },
  interface: { type: "string", short: "i", multiple: true },
  "stale-after": { type: "string" },
  "force-short-threshold": { type: "boolean" },
  exclude: { type: "string", multiple: true },
  "wg-quick-config": { type: "string" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  "log-timestamps": { type: "string" },
  "status-file": { type: "string" },
  "metrics-file": { type: "string" },
  wg: { type: "string" },
  "wg-timeout": { type: "string" },
  "key-dir": { type: "string" },
  "lock-dir": { type: "string" },
  "argv-budget": { type: "string" },
  help: { type: "boolean", short: "h" },
};

/** Flags that name files to read rather than settings. */
const SOURCE_FLAGS = new Set(["config", "uci", "help", "json"]);

const FLAG_FOR_FIELD: Record<keyof SettingsInput, string> = {
  interfaces: "--interface",
  staleAfter: "--stale-after",
  forceShortThreshold: "--force-short-threshold",
  exclude: "--exclude",
  wgQuickConfig: "--wg-quick-config",
  dryRun: "--dry-run",
  interval: "--interval",
  logLevel: "--log-level",
  logFormat: "--log-format",
  logTimestamps: "--log-timestamps",
  statusFile: "--status-file",
  metricsFile: "--metrics-file",
  wg: "--wg",
  wgTimeout: "--wg-timeout",
  networkConfig: "--network",
  keyDir: "--key-dir",
  lockDir: "--lock-dir",
  argvBudget: "--argv-budget",
  interfaceOverrides: "interfaceOverrides",
};

const NUMERIC_FLAGS = new Set(["stale-after", "interval", "wg-timeout", "argv-budget"]);

const SHARED_HELP = `
  -i, --interface IFACE     interface to purge; repeat for several, or "all" (default: all)
      --stale-after S       seconds since the latest handshake before a peer is purged
                            (default 180; below 180 is refused, see --force-short-threshold)
      --force-short-threshold
                            allow --stale-after below 180 s; cuts live sessions, demos/tests only
      --exclude KEY         public key never to purge; repeatable
      --wg-quick-config P   wg-quick file whose [Peer] Endpoint lines protect site-to-site
                            peers; %i is the interface (default /etc/wireguard/%i.conf if present)
      --config FILE         JSON settings file (flags override it)
      --uci FILE            UCI settings file (default on OpenWrt: /etc/config/wg-reinstate
                            when it exists and --config is not given)
      --network FILE        OpenWrt network config: WireGuard peers with endpoint_host are
                            protected (default with UCI: /etc/config/network)
      --log-level L         debug, info, warning or error (default info)
      --log-format F        text or json (JSON lines) (default text); debug and info go to
                            stdout, warning and error to stderr (all to stderr with --json)
      --log-timestamps T    auto, on or off: our own time stamp on log lines; auto drops it
                            where journald reads the stream (default auto)
      --wg PATH             the wg binary (default: wg from PATH)
      --wg-timeout S        seconds one wg call may take (default 10)
      --key-dir DIR         where the private preshared-key directories are made
                            (default ${RUN_DIR})
      --lock-dir DIR        per-interface lock files (default ${RUN_DIR})
      --status-file PATH    the last cycle and totals since boot, replaced after each cycle
                            (default ${STATUS_FILE})
      --metrics-file PATH   Prometheus text-format metrics, replaced after each cycle
                            (default: none)
      --argv-budget BYTES   arguments per wg set call (default ${DEFAULT_ARGV_BUDGET})
  -h, --help                this help`;

/** The exit codes, as `--help` states them. */
export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  runtime failure (wg failed, a peer needed repair, an interface is missing)
  2  usage or configuration error (nothing was changed)
  3  another wg-reinstate was purging an interface (it was skipped)`;

/** The main help text, listing the subcommands. */
export function mainHelp(commands: Readonly<Record<string, CommandSpec>>): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, spec]) =>
    `  wg-reinstate ${name.padEnd(width)} [options]   ${spec.summary}`
  );
  return `wg-reinstate: make WireGuard forget the endpoints of peers whose session is over

Usage:
${lines.join("\n")}
  wg-reinstate --version
  wg-reinstate COMMAND --help

${EXIT_CODES_HELP}`;
}

/** The help text of one subcommand. */
export function commandHelp(name: string, spec: CommandSpec): string {
  return `Usage: wg-reinstate ${name} [options]

${spec.description}
${SHARED_HELP}${spec.optionsHelp === "" ? "" : "\n" + spec.optionsHelp}`;
}

/** Loads every subcommand's spec, by name, in the table's order. */
export async function loadSpecs<S extends CommandSpec>(
  commands: Readonly<Record<string, SpecLoader<S>>>,
): Promise<Record<string, S>> {
  const names = Object.keys(commands);
  const specs = await Promise.all(names.map((name) => commands[name]()));
  return Object.fromEntries(names.map((name, i) => [name, specs[i]]));
}

/**
 * Parses argv (without the program name). Only the named subcommand's module
 * is loaded (all of them for `--help`).
 *
 * @param commands the subcommands, by name
 * @throws {ConfigError} for an unknown command or flag, or a malformed value
 */
export async function parseCommandLine<S extends CommandSpec>(
  argv: readonly string[],
  commands: Readonly<Record<string, SpecLoader<S>>>,
): Promise<CommandLine<S>> {
  const [first, ...rest] = argv;
  if (first === undefined) throw new ConfigError("no command given; see wg-reinstate --help");
  if (first === "--version" || first === "-V") return { kind: "version" };
  if (first === "--help" || first === "-h" || first === "help") {
    return { kind: "help", text: mainHelp(await loadSpecs(commands)) };
  }
  if (!Object.hasOwn(commands, first)) {
    throw new ConfigError(
      `unknown command "${first}"; expected ${Object.keys(commands).join(", ")}`,
    );
  }
  const spec = await commands[first]();
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...rest],
      options: { ...SHARED_OPTIONS, ...spec.options },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ConfigError(
      `${(error as Error).message.split("\n")[0]} (see wg-reinstate ${first} --help)`,
      { cause: error },
    );
  }
  if (values.help) return { kind: "help", text: commandHelp(first, spec) };
  return {
    kind: "command",
    command: first,
    spec,
    configPath: (values.config as string | undefined) ?? null,
    uciPath: (values.uci as string | undefined) ?? null,
    flags: {
      source: "flags",
      values: flagsToSettings(values),
      fieldName: (key) => FLAG_FOR_FIELD[key as keyof SettingsInput] ?? key,
    },
    json: values.json === true,
  };
}

function flagsToSettings(values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [flag, value] of Object.entries(values)) {
    if (SOURCE_FLAGS.has(flag) || value === undefined) continue;
    const field = Object.entries(FLAG_FOR_FIELD).find(([, f]) => f === `--${flag}`)?.[0];
    if (field === undefined) continue;
    out[field] = NUMERIC_FLAGS.has(flag) ? toNumber(flag, value as string) : value;
  }
  const interfaces = out.interfaces as string[] | undefined;
  if (interfaces?.includes("all")) {
    if (interfaces.length > 1) {
      throw new ConfigError('--interface: "all" cannot be combined with interface names');
    }
    out.interfaces = "all";
  }
  return out;
}

function toNumber(flag: string, value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) {
    throw new ConfigError(`--${flag}: "${value}" is not a number`);
  }
  return Number(value);
}
