/**
 * Every setting, described once: its JSON key (the entry's name), its flag,
 * its UCI option, its type and range, its default, its help, and whether an
 * interface may override it. The rest is derived from {@link SETTINGS}: the
 * schema and defaults (./schema.ts), the command line's options and help
 * (../cli/options.ts), the UCI mapping and the init script's datatypes
 * (./uci_settings.ts). The init script, the LuCI form and the docs are checked
 * against it by tests. Adding a setting is one entry here, and the code that
 * uses it.
 *
 * @module
 */
import { RUN_DIR, STATUS_FILE, UCI_NETWORK_PATH } from "../common/paths.ts";
import { DEFAULT_ARGV_BUDGET } from "../wg/set_args.ts";
import { REJECT_AFTER_TIME } from "../wg/constants.ts";

/** The range of a numeric setting. */
export interface NumberBounds {
  /** The least value; with `minExclusive`, values must be above it. */
  readonly min: number;
  readonly minExclusive?: boolean;
  readonly max: number;
  /** Whole numbers only. */
  readonly whole: boolean;
}

/** What values a setting takes. */
export type SettingType =
  | { readonly kind: "switch" }
  | {
    readonly kind: "number";
    readonly bounds: NumberBounds;
    /**
     * The least value without `forceShortThreshold` (which allows down to
     * `bounds.min`). Another source may set the force, so the schema leaves
     * this minimum to the check that sees them all.
     */
    readonly safeMin?: number;
  }
  | { readonly kind: "choice"; readonly values: readonly [string, ...string[]] }
  /** A path or a program: not empty, no control character; `orNone` also takes null. */
  | { readonly kind: "text"; readonly orNone?: boolean }
  /** "all", or a list of interface names. */
  | { readonly kind: "interfaces" }
  /** A list of WireGuard public keys. */
  | { readonly kind: "keys" };

/** The value of a setting of type `T`. */
export type ValueOf<T extends SettingType> = T extends { kind: "switch" } ? boolean
  : T extends { kind: "number" } ? number
  : T extends { kind: "choice"; values: readonly (infer V)[] } ? V
  : T extends { kind: "text"; orNone: true } ? string | null
  : T extends { kind: "text" } ? string
  : T extends { kind: "interfaces" } ? "all" | string[]
  : T extends { kind: "keys" } ? string[]
  : never;

/**
 * Which commands take a setting's flag: `settings` every command, `wg` those
 * that read WireGuard, `purge` those that purge; null only those that name
 * it (`daemon` names `interval`).
 */
export type OptionGroup = "settings" | "wg" | "purge";

/** What a setting's help may quote of the setting itself. */
export interface HelpContext {
  /** The default, as help shows it. */
  readonly default: string;
  /** A number's range: `1 to 86400`, `above 0 and at most 600`; from `safeMin` when it has one. */
  readonly range: string;
  /** A number's least value, forced or not. */
  readonly min: number;
  /** A choice's values: `debug, info, warning or error`. */
  readonly choices: string;
}

/** One setting. */
export interface SettingSpec {
  /** The long flag, without `--`. */
  readonly flag: string;
  /** The one-letter flag, without `-`. */
  readonly short?: string;
  /** What the help calls the flag's value, e.g. `S`; a switch has none. */
  readonly value?: string;
  /** The option of UCI's main section, or null when UCI does not set it. */
  readonly uci: string | null;
  /** The init script's datatype, where not the one the type implies: `file` (it must exist). */
  readonly uciDatatype?: "file";
  readonly type: SettingType;
  readonly default: boolean | number | string | null | readonly string[];
  /** An interface may override it: `interfaceOverrides` in JSON, `config interface` in UCI. */
  readonly perInterface?: boolean;
  readonly group: OptionGroup | null;
  /** The flag's help; each `\n` starts a line of its own. */
  readonly help: string | ((self: HelpContext) => string);
}

/** The help of a path setting: what it holds, its default on a line of its own. */
const pathHelp = (what: string) => (h: HelpContext): string => `${what}\n(default ${h.default})`;

/** Every setting, in the order `--help` lists their flags and `config` prints them. */
export const SETTINGS = {
  interfaces: {
    flag: "interface",
    short: "i",
    value: "IFACE",
    uci: "interface",
    type: { kind: "interfaces" },
    default: "all",
    group: "settings",
    help: 'interface to purge; repeat for several, or "all" (default: all)',
  },
  staleAfter: {
    flag: "stale-after",
    value: "S",
    uci: "stale_after",
    type: {
      kind: "number",
      bounds: { min: 1, max: 31_536_000, whole: true },
      safeMin: REJECT_AFTER_TIME,
    },
    default: REJECT_AFTER_TIME,
    perInterface: true,
    group: "settings",
    help: (h): string =>
      `seconds since the latest handshake before a peer is purged\n(default ${h.default}; ` +
      `${h.range}, from ${h.min} with ${flagOf("forceShortThreshold")})`,
  },
  forceShortThreshold: {
    flag: "force-short-threshold",
    uci: "force_short_threshold",
    type: { kind: "switch" },
    default: false,
    group: "settings",
    help: (): string =>
      `allow ${flagOf("staleAfter")} below ${REJECT_AFTER_TIME}; cuts live sessions, ` +
      "demos/tests only",
  },
  exclude: {
    flag: "exclude",
    value: "KEY",
    uci: "exclude",
    type: { kind: "keys" },
    default: [],
    perInterface: true,
    group: "settings",
    help: "public key never to purge; repeatable",
  },
  wgQuickConfig: {
    flag: "wg-quick-config",
    value: "P",
    uci: "wg_quick_config",
    // null: /etc/wireguard/%i.conf when it exists (see ./protection.ts).
    type: { kind: "text", orNone: true },
    default: null,
    group: "settings",
    help: "wg-quick file whose [Peer] Endpoint lines protect site-to-site\n" +
      "peers; %i is the interface (default /etc/wireguard/%i.conf if present)",
  },
  networkdDirs: {
    flag: "networkd-dirs",
    value: "DIRS",
    uci: "networkd_dirs",
    type: { kind: "text" },
    default: "/etc/systemd/network:/run/systemd/network:/usr/local/lib/systemd/network:" +
      "/usr/lib/systemd/network",
    group: "settings",
    help: (h): string =>
      "systemd-networkd's .netdev directories, first wins, `:` between;\n" +
      `off: none (default ${h.default})`,
  },
  netplanDirs: {
    flag: "netplan-dirs",
    value: "DIRS",
    uci: "netplan_dirs",
    type: { kind: "text" },
    default: "/run/netplan:/etc/netplan:/lib/netplan",
    group: "settings",
    help: (h): string =>
      `netplan's YAML directories, first wins, \`:\` between; off: none\n(default ${h.default})`,
  },
  networkManagerDirs: {
    flag: "network-manager-dirs",
    value: "DIRS",
    uci: "network_manager_dirs",
    type: { kind: "text" },
    default: "/run/NetworkManager/system-connections:/etc/NetworkManager/system-connections:" +
      "/usr/lib/NetworkManager/system-connections",
    group: "settings",
    help: (h): string =>
      "NetworkManager's keyfile directories, first wins, `:` between;\n" +
      `off: none (default ${h.default})`,
  },
  networkConfig: {
    flag: "network",
    value: "FILE",
    uci: "network_config",
    uciDatatype: "file",
    // null: none; a UCI file sets it to /etc/config/network (see ./uci_settings.ts).
    type: { kind: "text", orNone: true },
    default: null,
    group: "settings",
    help: "OpenWrt network config: WireGuard peers with endpoint_host are\n" +
      `protected (default with UCI: ${UCI_NETWORK_PATH})`,
  },
  interval: {
    flag: "interval",
    value: "S",
    uci: "interval",
    type: { kind: "number", bounds: { min: 1, max: 86_400, whole: true } },
    // As stale-after's: an idle daemon then reads once per stale-after.
    default: REJECT_AFTER_TIME,
    group: null,
    help: (h): string =>
      `the longest sleep between two cycles, ${h.range} (default ${h.default});\n` +
      "the daemon wakes sooner, at each peer's deadline",
  },
  dryRun: {
    flag: "dry-run",
    uci: "dry_run",
    type: { kind: "switch" },
    default: false,
    group: "purge",
    help: "report what would be purged, change nothing",
  },
  logLevel: {
    flag: "log-level",
    value: "L",
    uci: "log_level",
    type: { kind: "choice", values: ["debug", "info", "warning", "error"] },
    default: "info",
    group: "settings",
    help: (h): string => `${h.choices} (default ${h.default})`,
  },
  logFormat: {
    flag: "log-format",
    value: "F",
    uci: "log_format",
    type: { kind: "choice", values: ["text", "json"] },
    default: "text",
    group: "settings",
    help: (h): string =>
      `${h.choices} (JSON lines) (default ${h.default}); debug and info go to\n` +
      "stdout, warning and error to stderr (all to stderr when stdout carries JSON)",
  },
  logTimestamps: {
    flag: "log-timestamps",
    value: "T",
    // The init script passes `off` (logd stamps lines): not a UCI option.
    uci: null,
    type: { kind: "choice", values: ["auto", "on", "off"] },
    default: "auto",
    group: "settings",
    help: (h): string =>
      `${h.choices}: our own time stamp on log lines; auto drops it\n` +
      `where journald reads the stream (default ${h.default})`,
  },
  wg: {
    flag: "wg",
    value: "PATH",
    uci: "wg",
    uciDatatype: "file",
    type: { kind: "text" },
    default: "wg",
    group: "wg",
    help: "the wg binary (default: wg from PATH)",
  },
  wgTimeout: {
    flag: "wg-timeout",
    value: "S",
    uci: "wg_timeout",
    type: { kind: "number", bounds: { min: 0, minExclusive: true, max: 600, whole: false } },
    default: 10,
    group: "wg",
    help: (h): string => `seconds one wg call may take, ${h.range} (default ${h.default})`,
  },
  keyDir: {
    flag: "key-dir",
    value: "DIR",
    uci: "key_dir",
    type: { kind: "text" },
    default: RUN_DIR,
    group: "purge",
    help: pathHelp("where the private preshared-key directories are made"),
  },
  lockDir: {
    flag: "lock-dir",
    value: "DIR",
    uci: null,
    type: { kind: "text" },
    default: RUN_DIR,
    group: "purge",
    help: (h): string => `per-interface lock files (default ${h.default})`,
  },
  statusFile: {
    flag: "status-file",
    value: "PATH",
    uci: "status_file",
    type: { kind: "text" },
    default: STATUS_FILE,
    group: "purge",
    help: pathHelp("the last cycle and totals since boot, replaced after each cycle"),
  },
  metricsFile: {
    flag: "metrics-file",
    value: "PATH",
    uci: "metrics_file",
    type: { kind: "text", orNone: true },
    default: null,
    group: "purge",
    help: "Prometheus text-format metrics, replaced after each cycle\n(default: none)",
  },
  argvBudget: {
    flag: "argv-budget",
    value: "BYTES",
    // The kernel's limit is ARG_MAX; UCI has no use for it.
    uci: null,
    type: { kind: "number", bounds: { min: 4096, max: 64 * 1024 * 1024, whole: true } },
    default: DEFAULT_ARGV_BUDGET,
    group: "purge",
    help: (h): string => `arguments per wg set call, ${h.range} (default ${h.default})`,
  },
} as const satisfies Record<string, SettingSpec>;

/** The name of a setting: its JSON key. */
export type SettingName = keyof typeof SETTINGS;

/** The long flag of a setting, without `--`. */
export type SettingFlag = (typeof SETTINGS)[SettingName]["flag"];

/** The names of the settings an interface may override. */
export type PerInterfaceName = {
  [K in SettingName]: (typeof SETTINGS)[K] extends { perInterface: true } ? K : never;
}[SettingName];

/** Every setting's name, in the registry's order. */
export const SETTING_NAMES: readonly SettingName[] = Object.keys(SETTINGS) as SettingName[];

/** The settings an interface may override, in the registry's order. */
export const PER_INTERFACE_NAMES: readonly PerInterfaceName[] = SETTING_NAMES.filter((name) =>
  (SETTINGS[name] as SettingSpec).perInterface === true
) as PerInterfaceName[];

/** True when `name` is a setting's name (and not, say, `constructor`). */
export function isSettingName(name: string): name is SettingName {
  return Object.hasOwn(SETTINGS, name);
}

/** The spec of a setting, as the general {@link SettingSpec}. */
export function settingSpec(name: SettingName): SettingSpec {
  return SETTINGS[name];
}

/** How messages name a setting: its flag without the dashes, e.g. `key-dir`. */
export function labelOf(name: SettingName): string {
  return SETTINGS[name].flag;
}

/** The flag of a setting as typed: `--` and its long flag. */
export function flagOf(name: SettingName): string {
  return `--${SETTINGS[name].flag}`;
}

/** Values as help and messages list them: `debug, info, warning or error`. */
export function listOfChoices(values: readonly [string, ...string[]]): string {
  return values.length === 1 ? values[0] : `${values.slice(0, -1).join(", ")} or ${values.at(-1)}`;
}

/** A range as help states it: `1 to 86400`, `above 0 and at most 600`. */
export function describeRange(bounds: NumberBounds, least = bounds.min): string {
  return bounds.minExclusive
    ? `above ${least} and at most ${bounds.max}`
    : `${least} to ${bounds.max}`;
}

/** The help text of a setting's flag. */
export function helpOf(name: SettingName): string {
  const spec = settingSpec(name);
  if (typeof spec.help === "string") return spec.help;
  const type = spec.type;
  return spec.help({
    default: String(spec.default),
    range: type.kind === "number" ? describeRange(type.bounds, type.safeMin) : "",
    min: type.kind === "number" ? type.bounds.min : 0,
    choices: type.kind === "choice" ? listOfChoices(type.values) : "",
  });
}
