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

/** A whole number from `min` to `max`. */
const wholeNumber = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max));

/** A string that is not empty (a path, a command). */
const text = z.string().check(z.minLength(1));

const STALE_AFTER = wholeNumber(1, 31_536_000);

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
  interval: wholeNumber(1, 86_400),
  /** Lowest level logged. */
  logLevel: z.enum(LOG_LEVELS),
  /** `text` lines or JSON lines (debug and info on stdout, warning and error on stderr). */
  logFormat: z.enum(["text", "json"]),
  /**
   * Our own time stamp on log lines: `auto` drops it where journald reads the
   * stream; the OpenWrt init script passes `off` (logd stamps lines).
   */
  logTimestamps: z.enum(["auto", "on", "off"]),
  /** The `wg` binary. */
  wg: text,
  /** Seconds one `wg` call may take before it is stopped. */
  wgTimeout: z.number().check(z.positive(), z.maximum(600)),
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
  argvBudget: wholeNumber(4096, 64 * 1024 * 1024),
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

/** A named source of settings, e.g. `--flags` or a file path. */
export interface SettingsLayer {
  /** How errors name the source: a file path, or "flags". */
  source: string;
  /** Untrusted values to check. */
  values: unknown;
  /** Turns a field name into what the user typed, e.g. `--stale-after`. */
  fieldName?: (key: string) => string;
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
  const name = layer.fieldName ?? ((key: string) => key);
  let where: string;
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    where = issue.keys.map(name).join(", ");
    message = "unknown setting";
  } else {
    const [key, ...rest] = issue.path.map(String);
    where = key === undefined ? "settings" : [name(key), ...rest].join(".");
  }
  throw new ConfigError(`${layer.source}: ${where}: ${message}`);
}

/**
 * Merges sources, later ones winning (pass defaults' overrides in order:
 * file, then flags), and checks the rules that span fields.
 *
 * @throws {ConfigError} for a bad value or a threshold below 180 s without force
 */
export function resolveSettings(layers: readonly SettingsLayer[]): Settings {
  const merged: Settings = { ...DEFAULT_SETTINGS, exclude: [...DEFAULT_SETTINGS.exclude] };
  for (const layer of layers) {
    const input = parseSettingsLayer(layer);
    for (const [key, value] of Object.entries(input)) {
      if (value !== undefined) Object.assign(merged, { [key]: value });
    }
  }
  const thresholds: [string, number | undefined][] = [
    ["stale-after", merged.staleAfter],
    ...Object.entries(merged.interfaceOverrides).map(([name, o]): [string, number | undefined] => [
      `stale-after of interface ${name}`,
      o.staleAfter,
    ]),
  ];
  for (const [what, value] of thresholds) {
    if (value === undefined || value >= REJECT_AFTER_TIME || merged.forceShortThreshold) continue;
    throw new ConfigError(
      `${what}: ${value} s is below ${REJECT_AFTER_TIME} s; a WireGuard session ` +
        `lives up to ${REJECT_AFTER_TIME} s (REJECT_AFTER_TIME), so a shorter threshold cuts live ` +
        `sessions (--force-short-threshold overrides this for demos and tests)`,
    );
  }
  return merged;
}
