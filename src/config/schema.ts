/**
 * The one settings schema. CLI flags, the JSON config file and (on OpenWrt)
 * UCI are each checked against {@link settingsInputSchema} and then merged,
 * flags over file over defaults, by {@link resolveSettings}.
 *
 * @module
 */
import * as z from "../common/z.ts";
import { ConfigError } from "../common/errors.ts";
import { RUN_DIR, STATUS_FILE } from "../common/paths.ts";
import { IFACE_NAME_PATTERN, REJECT_AFTER_TIME, WG_KEY_PATTERN } from "../wg/constants.ts";
import { DEFAULT_ARGV_BUDGET } from "../purge/set_args.ts";

/** zod schema for a WireGuard public or preshared key. */
export const wgKeySchema = z.string().check(z.regex(WG_KEY_PATTERN, {
  error: "is not a WireGuard key (44 characters of base64 ending in '=')",
}));

/** zod schema for one interface name (not the word `all`). */
export const ifaceNameSchema = z.string().check(
  z.regex(IFACE_NAME_PATTERN, {
    error: "is not a valid interface name (1-15 of A-Z a-z 0-9 _ = + . -, not starting with -)",
  }),
  z.refine((name) => name !== "all", { error: "'all' cannot be mixed with interface names" }),
);

/** Log levels the tool accepts, lowest first. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;

/** The range of a numeric setting. */
export interface NumberBounds {
  /** The least value; with `minExclusive`, values must be above it. */
  min: number;
  minExclusive?: boolean;
  max: number;
  /** Whole numbers only. */
  whole: boolean;
}

/**
 * The range of every numeric setting, stated once: the schema checks it, and
 * the command line's help and messages quote it. `staleAfter` below
 * {@link REJECT_AFTER_TIME} also needs `forceShortThreshold` (see
 * {@link resolveSettings}).
 */
export const NUMBER_BOUNDS = {
  staleAfter: { min: 1, max: 31_536_000, whole: true },
  interval: { min: 1, max: 86_400, whole: true },
  wgTimeout: { min: 0, minExclusive: true, max: 600, whole: false },
  argvBudget: { min: 4096, max: 64 * 1024 * 1024, whole: true },
} as const satisfies Record<string, NumberBounds>;

/**
 * A number within `bounds`. Not `z.int()`: it caps whole numbers at 2^53 - 1
 * and would name that, not the setting's own maximum. `withMin: false` leaves
 * the minimum to a check that sees every source (the threshold's).
 */
function numberIn(bounds: NumberBounds, withMin = true) {
  const checks: z.core.$ZodCheck<number>[] = [z.maximum(bounds.max)];
  if (withMin) checks.unshift(bounds.minExclusive ? z.gt(bounds.min) : z.minimum(bounds.min));
  if (bounds.whole) checks.push(z.refine(Number.isInteger, { error: "must be a whole number" }));
  return z.number().check(...checks);
}

/** True when `s` holds a control character (below 0x20, or DEL), which no setting may contain. */
export function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/**
 * A string that is not empty (a path, a command) and holds no control
 * character: a newline in a path would forge a second log line.
 */
const text = z.string().check(
  z.minLength(1),
  z.refine((s) => !hasControlCharacter(s), { error: "must not contain control characters" }),
);

/** One of `values`; the message lists them as the help does: `debug, info, warning or error`. */
function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  const list = `${values.slice(0, -1).join(", ")} or ${values.at(-1)}`;
  return z.enum(values, { error: `must be ${list}` });
}

// Its minimum depends on forceShortThreshold, which another source may set.
const STALE_AFTER = numberIn(NUMBER_BOUNDS.staleAfter, false);

/** Every setting, each optional: one source may set any subset. */
export const settingsInputSchema = z.partial(z.strictObject({
  /** Interfaces to purge, or "all". */
  interfaces: z.union([
    z.literal("all"),
    z.array(ifaceNameSchema).check(z.minLength(1, { error: "needs at least one interface name" })),
  ], { error: 'expected "all" or a list of interface names' }),
  /** Seconds since the latest handshake after which a peer is purged. */
  staleAfter: STALE_AFTER,
  /** Allows staleAfter below 180 s, for demos and tests. */
  forceShortThreshold: z.boolean(),
  /** Public keys never purged. */
  exclude: z.array(wgKeySchema),
  /**
   * wg-quick config whose [Peer] Endpoint lines protect site-to-site peers;
   * `%i` stands for the interface name. null: /etc/wireguard/%i.conf when it exists.
   */
  wgQuickConfig: z.nullable(text),
  /** Plan and report, change nothing. */
  dryRun: z.boolean(),
  /** Daemon: seconds between cycles. */
  interval: numberIn(NUMBER_BOUNDS.interval),
  /** Lowest level logged. */
  logLevel: oneOf(LOG_LEVELS),
  /** `text` lines or JSON lines (debug and info on stdout, warning and error on stderr). */
  logFormat: oneOf(["text", "json"]),
  /**
   * Our own time stamp on log lines: `auto` drops it where journald reads the
   * stream; the OpenWrt init script passes `off` (logd stamps lines).
   */
  logTimestamps: oneOf(["auto", "on", "off"]),
  /** The `wg` binary. */
  wg: text,
  /** Seconds one `wg` call may take before it is stopped. */
  wgTimeout: numberIn(NUMBER_BOUNDS.wgTimeout),
  /**
   * OpenWrt's network config (/etc/config/network): its WireGuard peers with
   * `endpoint_host` are protected, and their descriptions shown. null: none.
   */
  networkConfig: z.nullable(text),
  /** Parent of the private preshared-key directories (the key directory). */
  keyDir: text,
  /** Directory of the per-interface lock files. */
  lockDir: text,
  /** The status file, replaced after every cycle: the last cycle and totals since boot. */
  statusFile: text,
  /** A Prometheus text-format file, replaced after every cycle; null: none. */
  metricsFile: z.nullable(text),
  /** Bytes of arguments per `wg set` call (the kernel's limit is ARG_MAX). */
  argvBudget: numberIn(NUMBER_BOUNDS.argvBudget),
  /** Per-interface threshold and extra exclusions. */
  interfaceOverrides: z.record(
    ifaceNameSchema,
    z.partial(z.strictObject({ staleAfter: STALE_AFTER, exclude: z.array(wgKeySchema) })),
  ),
}));

/** One source's settings; every field optional. */
export type SettingsInput = z.infer<typeof settingsInputSchema>;

/** The effective settings. */
export type Settings = Required<SettingsInput>;

/** Defaults, used for every setting no source gives. */
export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  interfaces: "all",
  staleAfter: REJECT_AFTER_TIME,
  forceShortThreshold: false,
  exclude: [],
  wgQuickConfig: null,
  dryRun: false,
  interval: 30,
  logLevel: "info",
  logFormat: "text",
  logTimestamps: "auto",
  wg: "wg",
  wgTimeout: 10,
  networkConfig: null,
  keyDir: RUN_DIR,
  lockDir: RUN_DIR,
  statusFile: STATUS_FILE,
  metricsFile: null,
  argvBudget: DEFAULT_ARGV_BUDGET,
  interfaceOverrides: {},
});

/** A named source of settings, e.g. the command line or a file path. */
export interface SettingsLayer {
  /** How errors name the source: a file path, or "flags". */
  source: string;
  /** Untrusted values to check. */
  values: unknown;
  /** Turns a field name into what the user typed, e.g. `--stale-after`. */
  fieldName?: (key: string) => string;
  /**
   * Words a problem with the setting `key` as the whole message. The command
   * line gives one, which names the flag and points at its `--help`; without
   * it the message is `source: field: problem (detail)`, the detail saying
   * what a file's reader has no `--help` for.
   */
  describe?: (key: string, problem: string) => string;
}

/** The message for a problem with the setting at `path` of `layer`. */
function problemIn(layer: SettingsLayer, path: readonly string[], problem: string, detail = "") {
  const [key, ...rest] = path;
  if (layer.describe !== undefined && key !== undefined) return layer.describe(key, problem);
  const name = layer.fieldName ?? ((k: string) => k);
  const where = key === undefined ? "settings" : [name(key), ...rest].join(".");
  return `${layer.source}: ${where}: ${problem}${detail === "" ? "" : ` (${detail})`}`;
}

/**
 * Checks one source against the schema.
 *
 * @throws {ConfigError} naming the source, the field and the problem
 */
export function parseSettingsLayer(layer: SettingsLayer): SettingsInput {
  const result = settingsInputSchema.safeParse(layer.values);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue.code === "unrecognized_keys") {
    const name = layer.fieldName ?? ((key: string) => key);
    throw new ConfigError(`${layer.source}: ${issue.keys.map(name).join(", ")}: unknown setting`, {
      cause: result.error,
    });
  }
  throw new ConfigError(problemIn(layer, issue.path.map(String), issue.message), {
    cause: result.error,
  });
}

/**
 * Merges sources, later ones winning (pass defaults' overrides in order:
 * file, then flags), and checks the rules that span fields.
 *
 * @throws {ConfigError} for a bad value or a threshold below 180 s without force
 */
export function resolveSettings(layers: readonly SettingsLayer[]): Settings {
  const merged: Settings = { ...DEFAULT_SETTINGS, exclude: [...DEFAULT_SETTINGS.exclude] };
  // Which layer gave each setting, so that a rule spanning fields names it.
  const givenBy = new Map<string, SettingsLayer>();
  for (const layer of layers) {
    const input = parseSettingsLayer(layer);
    for (const [key, value] of Object.entries(input)) {
      if (value === undefined) continue;
      Object.assign(merged, { [key]: value });
      givenBy.set(key, layer);
    }
  }
  checkThresholds(merged, givenBy);
  return merged;
}

/**
 * A threshold below REJECT_AFTER_TIME cuts live sessions: it needs
 * forceShortThreshold, from any source, and is at least 1 even then.
 */
function checkThresholds(merged: Settings, givenBy: ReadonlyMap<string, SettingsLayer>): void {
  const forced = merged.forceShortThreshold;
  const min = forced ? NUMBER_BOUNDS.staleAfter.min : REJECT_AFTER_TIME;
  const thresholds: [string[], number | undefined][] = [
    [["staleAfter"], merged.staleAfter],
    ...Object.entries(merged.interfaceOverrides).map((
      [name, o],
    ): [string[], number | undefined] => [
      ["interfaceOverrides", name, "staleAfter"],
      o.staleAfter,
    ]),
  ];
  for (const [path, value] of thresholds) {
    const layer = givenBy.get(path[0]);
    if (value === undefined || value >= min || layer === undefined) continue;
    const force = (layer.fieldName ?? ((k: string) => k))("forceShortThreshold");
    const detail = forced
      ? ""
      : `below ${REJECT_AFTER_TIME} s, live WireGuard sessions are cut; ${force} allows it, ` +
        "for demos and tests";
    throw new ConfigError(problemIn(layer, path, `must be at least ${min}`, detail));
  }
}
