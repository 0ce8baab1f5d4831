/**
 * Every command-line option, described once: its flag, short form, value,
 * the setting it sets, and its help. A subcommand lists the options it uses
 * by name; the parser accepts those alone and `--help` lists those alone.
 * A numeric option's range is the schema's ({@link NUMBER_BOUNDS}).
 *
 * @module
 */
import { RUN_DIR, STATUS_FILE } from "../common/paths.ts";
import {
  DEFAULT_SETTINGS,
  NUMBER_BOUNDS,
  type NumberBounds,
  type SettingsInput,
} from "../config/schema.ts";
import { REJECT_AFTER_TIME } from "../wg/constants.ts";

/** One option of the command line. */
export interface OptionSpec {
  /** The one-letter form, without `-`. */
  short?: string;
  /** What its value is called in the help, e.g. `S`; absent for a switch. */
  value?: string;
  /** May be given more than once; every value is kept. */
  multiple?: boolean;
  /** The setting it sets; absent for options that name files or ask for output. */
  field?: keyof SettingsInput;
  /** The help text; each `\n` starts a line of its own. */
  help: string;
}

const range = (b: NumberBounds) =>
  b.minExclusive ? `above ${b.min} and at most ${b.max}` : `${b.min} to ${b.max}`;

/** Every option, in the order `--help` lists them. */
export const OPTIONS = {
  interface: {
    short: "i",
    value: "IFACE",
    multiple: true,
    field: "interfaces",
    help: 'interface to purge; repeat for several, or "all" (default: all)',
  },
  "stale-after": {
    value: "S",
    field: "staleAfter",
    help: `seconds since the latest handshake before a peer is purged\n` +
      `(default ${DEFAULT_SETTINGS.staleAfter}; ${REJECT_AFTER_TIME} to ` +
      `${NUMBER_BOUNDS.staleAfter.max}, from ${NUMBER_BOUNDS.staleAfter.min} with ` +
      `--force-short-threshold)`,
  },
  "force-short-threshold": {
    field: "forceShortThreshold",
    help: `allow --stale-after below ${REJECT_AFTER_TIME}; cuts live sessions, demos/tests only`,
  },
  exclude: {
    value: "KEY",
    multiple: true,
    field: "exclude",
    help: "public key never to purge; repeatable",
  },
  "wg-quick-config": {
    value: "P",
    field: "wgQuickConfig",
    help: "wg-quick file whose [Peer] Endpoint lines protect site-to-site\n" +
      "peers; %i is the interface (default /etc/wireguard/%i.conf if present)",
  },
  config: { value: "FILE", help: "JSON settings file (flags override it)" },
  uci: {
    value: "FILE",
    help: "UCI settings file (default on OpenWrt: /etc/config/wg-reinstate\n" +
      "when it exists and --config is not given)",
  },
  network: {
    value: "FILE",
    field: "networkConfig",
    help: "OpenWrt network config: WireGuard peers with endpoint_host are\n" +
      "protected (default with UCI: /etc/config/network)",
  },
  interval: {
    value: "S",
    field: "interval",
    help: `seconds between cycles, ${range(NUMBER_BOUNDS.interval)} ` +
      `(default ${DEFAULT_SETTINGS.interval})`,
  },
  "dry-run": { field: "dryRun", help: "report what would be purged, change nothing" },
  json: {
    help: "print the result as JSON on stdout; log lines all go to stderr",
  },
  "log-level": {
    value: "L",
    field: "logLevel",
    help: `debug, info, warning or error (default ${DEFAULT_SETTINGS.logLevel})`,
  },
  "log-format": {
    value: "F",
    field: "logFormat",
    help:
      `text or json (JSON lines) (default ${DEFAULT_SETTINGS.logFormat}); debug and info go to\n` +
      "stdout, warning and error to stderr (all to stderr when stdout carries JSON)",
  },
  "log-timestamps": {
    value: "T",
    field: "logTimestamps",
    help: "auto, on or off: our own time stamp on log lines; auto drops it\n" +
      `where journald reads the stream (default ${DEFAULT_SETTINGS.logTimestamps})`,
  },
  wg: { value: "PATH", field: "wg", help: "the wg binary (default: wg from PATH)" },
  "wg-timeout": {
    value: "S",
    field: "wgTimeout",
    help: `seconds one wg call may take, ${range(NUMBER_BOUNDS.wgTimeout)} ` +
      `(default ${DEFAULT_SETTINGS.wgTimeout})`,
  },
  "key-dir": {
    value: "DIR",
    field: "keyDir",
    help: `where the private preshared-key directories are made\n(default ${RUN_DIR})`,
  },
  "lock-dir": {
    value: "DIR",
    field: "lockDir",
    help: `per-interface lock files (default ${RUN_DIR})`,
  },
  "status-file": {
    value: "PATH",
    field: "statusFile",
    help: `the last cycle and totals since boot, replaced after each cycle\n` +
      `(default ${STATUS_FILE})`,
  },
  "metrics-file": {
    value: "PATH",
    field: "metricsFile",
    help: "Prometheus text-format metrics, replaced after each cycle\n(default: none)",
  },
  "argv-budget": {
    value: "BYTES",
    field: "argvBudget",
    help: `arguments per wg set call, ${range(NUMBER_BOUNDS.argvBudget)} ` +
      `(default ${DEFAULT_SETTINGS.argvBudget})`,
  },
  help: { short: "h", help: "this help" },
} as const satisfies Record<string, OptionSpec>;

/** The name of an option: its long flag without `--`. */
export type OptionName = keyof typeof OPTIONS;

/** The options of every command that reads settings: their sources, logging and protection. */
export const SETTINGS_OPTIONS: readonly OptionName[] = [
  "config",
  "uci",
  "network",
  "interface",
  "stale-after",
  "force-short-threshold",
  "exclude",
  "wg-quick-config",
  "log-level",
  "log-format",
  "log-timestamps",
];

/** The options of the commands that read WireGuard. */
export const WG_OPTIONS: readonly OptionName[] = ["wg", "wg-timeout"];

/** The options of the commands that purge: the files a cycle writes, and how it calls wg set. */
export const PURGE_OPTIONS: readonly OptionName[] = [
  "key-dir",
  "lock-dir",
  "status-file",
  "metrics-file",
  "argv-budget",
  "dry-run",
];

/** The option that sets `field`, or undefined. */
export function optionFor(field: string): OptionName | undefined {
  return (Object.keys(OPTIONS) as OptionName[]).find((o) =>
    (OPTIONS[o] as OptionSpec).field === field
  );
}

/** The numeric range of an option, or undefined when it takes no number. */
export function boundsOf(name: OptionName): NumberBounds | undefined {
  const field = (OPTIONS[name] as OptionSpec).field;
  return field !== undefined && Object.hasOwn(NUMBER_BOUNDS, field)
    ? NUMBER_BOUNDS[field as keyof typeof NUMBER_BOUNDS]
    : undefined;
}

/** The help lines of `names` and `--help`, in the order of {@link OPTIONS}. */
export function optionsHelp(names: readonly OptionName[]): string {
  const listed = (Object.keys(OPTIONS) as OptionName[]).filter((o) =>
    o === "help" || names.includes(o)
  );
  return listed.map((name) => {
    const spec: OptionSpec = OPTIONS[name];
    const flag = `${spec.short === undefined ? "    " : `-${spec.short}, `}--${name}` +
      (spec.value === undefined ? "" : ` ${spec.value}`);
    const [first, ...more] = spec.help.split("\n");
    const head = flag.length > 24
      ? `  ${flag}\n${" ".repeat(28)}${first}`
      : `  ${flag.padEnd(26)}${first}`;
    return [head, ...more.map((line) => " ".repeat(28) + line)].join("\n");
  }).join("\n");
}
