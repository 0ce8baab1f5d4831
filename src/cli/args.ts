/**
 * Command-line parsing with `node:util`'s strict `parseArgs`. Flags become a
 * {@link SettingsLayer} checked by the same schema as the config files.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError } from "../errors.ts";
import type { SettingsInput, SettingsLayer } from "../config/schema.ts";

/** The subcommands. */
export type CommandName = "run" | "status" | "daemon" | "config";

/** What the command line asks for. */
export type CommandLine =
  | { kind: "help"; text: string }
  | { kind: "version" }
  | {
    kind: "command";
    command: CommandName;
    /** `--config FILE`, or null. */
    configPath: string | null;
    /** `--uci FILE`, or null. */
    uciPath: string | null;
    /** The settings given as flags. */
    flags: SettingsLayer;
    /** `--json`: machine-readable output on stdout. */
    json: boolean;
  };

type Options = NonNullable<ParseArgsConfig["options"]>;

// Flags shared by every command, and the settings field each one sets.
const POLICY_OPTIONS: Options = {
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
  wg: { type: "string" },
  "wg-timeout": { type: "string" },
  "temp-dir": { type: "string" },
  "lock-dir": { type: "string" },
  "argv-budget": { type: "string" },
  help: { type: "boolean", short: "h" },
};

const COMMAND_OPTIONS: Record<CommandName, Options> = {
  run: { ...POLICY_OPTIONS, "dry-run": { type: "boolean" }, json: { type: "boolean" } },
  status: { ...POLICY_OPTIONS, json: { type: "boolean" } },
  daemon: { ...POLICY_OPTIONS, "dry-run": { type: "boolean" }, interval: { type: "string" } },
  config: POLICY_OPTIONS,
};

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
  wg: "--wg",
  wgTimeout: "--wg-timeout",
  networkConfig: "--network",
  tempDir: "--temp-dir",
  lockDir: "--lock-dir",
  argvBudget: "--argv-budget",
  interfaceOverrides: "interfaceOverrides",
};

const NUMERIC_FLAGS = new Set(["stale-after", "interval", "wg-timeout", "argv-budget"]);

const COMMON_HELP = `
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
      --log-format F        text or json (JSON lines), on stderr (default text)
      --wg PATH             the wg binary (default: wg from PATH)
      --wg-timeout S        seconds one wg call may take (default 10)
      --temp-dir DIR        where the private preshared-key directories are made
                            (default /var/run/wg-reinstate)
      --lock-dir DIR        per-interface lock files (default /var/run/wg-reinstate)
      --argv-budget BYTES   arguments per wg set call (default 524288)
  -h, --help                this help`;

const HELP: Record<CommandName | "main", string> = {
  main: `wg-reinstate: make WireGuard forget the endpoints of peers whose session is over

Usage:
  wg-reinstate run [options]      one purge cycle, then exit
  wg-reinstate status [options]   show every peer and what a cycle would do
  wg-reinstate daemon [options]   a purge cycle every --interval seconds
  wg-reinstate config [options]   print the effective settings and protected peers as JSON
  wg-reinstate --version
  wg-reinstate COMMAND --help

Exit codes: 0 ok, 1 runtime failure (wg failed, a peer needed repair),
2 usage or configuration error (nothing was changed), 3 another
wg-reinstate was purging an interface (it was skipped).`,
  run: `Usage: wg-reinstate run [options]

Purges, once, every peer whose latest handshake is older than --stale-after:
the peer is removed and re-added in one wg call with the same allowed-ips,
preshared key and keepalive, so the interface forgets its endpoint.
${COMMON_HELP}
      --dry-run             report what would be purged, change nothing
      --json                print the cycle report as JSON on stdout`,
  status: `Usage: wg-reinstate status [options]

Lists every peer: interface, short key, endpoint family (never the address),
handshake age, and what a cycle would decide, with the reason.
${COMMON_HELP}
      --json                print the list as JSON on stdout`,
  daemon: `Usage: wg-reinstate daemon [options]

Runs a purge cycle at start and then every --interval seconds. SIGTERM or
SIGINT lets the running cycle finish, then exits 0. SIGHUP reloads --config.
${COMMON_HELP}
      --interval S          seconds between cycles (default 30)
      --dry-run             report what would be purged, change nothing`,
  config: `Usage: wg-reinstate config [options]

Prints, as JSON, the effective settings after defaults, the UCI or JSON file
and flags, and for each interface the peers that are never purged and why.
Reads no WireGuard state; with interfaces "all" it lists the WireGuard
interfaces of the network config.
${COMMON_HELP}`,
};

/**
 * Parses argv (without the program name).
 *
 * @throws {ConfigError} for an unknown command or flag, or a malformed value
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const [first, ...rest] = argv;
  if (first === undefined) throw new ConfigError("no command given; see wg-reinstate --help");
  if (first === "--version" || first === "-V") return { kind: "version" };
  if (first === "--help" || first === "-h" || first === "help") {
    return { kind: "help", text: HELP.main };
  }
  if (!Object.hasOwn(COMMAND_OPTIONS, first)) {
    throw new ConfigError(`unknown command "${first}"; expected run, status, daemon or config`);
  }
  const command = first as CommandName;
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...rest],
      options: COMMAND_OPTIONS[command],
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ConfigError(
      `${(error as Error).message.split("\n")[0]} (see wg-reinstate ${command} --help)`,
    );
  }
  if (values.help) return { kind: "help", text: HELP[command] };
  return {
    kind: "command",
    command,
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
    if (["config", "uci", "help", "json"].includes(flag) || value === undefined) continue;
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
