/**
 * The one settings schema, derived from the registry (./settings_registry.ts).
 * CLI flags, the JSON config file and (on OpenWrt) UCI are each checked
 * against {@link settingsInputSchema} and then merged, flags over file over
 * defaults, by {@link resolveSettings}.
 *
 * @module
 */
import * as z from "../common/z.ts";
import { ConfigError } from "../common/errors.ts";
import { IFACE_NAME_PATTERN, WG_KEY_PATTERN } from "../wg/constants.ts";
import {
  listOfChoices,
  type NumberBounds,
  PER_INTERFACE_NAMES,
  SETTING_NAMES,
  type SettingName,
  SETTINGS,
  settingSpec,
  type SettingType,
  type ValueOf,
} from "./settings_registry.ts";

export type { NumberBounds };

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
export const LOG_LEVELS = SETTINGS.logLevel.type.values;

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

const interfacesSchema = z.union([
  z.literal("all"),
  z.array(ifaceNameSchema).check(z.minLength(1, { error: "needs at least one interface name" })),
], { error: 'expected "all" or a list of interface names' });

/** The schema of a setting of type `type`. */
function schemaOf(type: SettingType): z.ZodMiniType {
  switch (type.kind) {
    case "switch":
      return z.boolean();
    case "number":
      // A safe minimum depends on forceShortThreshold, which another source may set.
      return numberIn(type.bounds, type.safeMin === undefined);
    case "choice":
      return z.enum(type.values, { error: `must be ${listOfChoices(type.values)}` });
    case "text":
      return type.orNone ? z.nullable(text) : text;
    case "interfaces":
      return interfacesSchema;
    case "keys":
      return z.array(wgKeySchema);
  }
}

/** One zod schema per setting in `names`, typed by the registry. */
function shapeOf<N extends SettingName>(names: readonly N[]) {
  return Object.fromEntries(names.map((name) => [name, schemaOf(settingSpec(name).type)])) as {
    -readonly [K in N]: z.ZodMiniType<ValueOf<(typeof SETTINGS)[K]["type"]>>;
  };
}

/** What an interface may override; every field optional. */
const overrideSchema = z.partial(z.strictObject(shapeOf(PER_INTERFACE_NAMES)));

/** One interface's overrides. */
export type InterfaceOverride = z.infer<typeof overrideSchema>;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) &&
  [Object.prototype, null].includes(Object.getPrototypeOf(value));

/**
 * Overrides by interface name. Not `z.record`: it drops a key named
 * `__proto__`, and with it what that interface's section protects. Issues
 * read as `z.record`'s would.
 */
const overridesSchema = z.pipe(
  z.custom<Record<string, unknown>>(isRecord, { error: "expected record" }),
  z.transform((input, ctx) => {
    const entries: [string, InterfaceOverride][] = [];
    for (const [name, value] of Object.entries(input)) {
      if (!ifaceNameSchema.safeParse(name).success) {
        ctx.issues.push({
          code: "invalid_key",
          origin: "record",
          issues: [],
          input: name,
          path: [name],
        });
        continue;
      }
      const result = overrideSchema.safeParse(value);
      if (result.success) entries.push([name, result.data]);
      else {
        for (const issue of result.error.issues) {
          ctx.issues.push({ ...issue, path: [name, ...issue.path] } as z.core.$ZodRawIssue);
        }
      }
    }
    // fromEntries defines each name as an own property, `__proto__` too.
    return Object.fromEntries(entries);
  }),
);

/** Every setting, each optional: one source may set any subset. */
export const settingsInputSchema = z.partial(z.strictObject({
  ...shapeOf(SETTING_NAMES),
  /** Per-interface settings, by interface name. */
  interfaceOverrides: overridesSchema,
}));

/** One source's settings; every field optional. */
export type SettingsInput = z.infer<typeof settingsInputSchema>;

/** The effective settings. */
export type Settings = Required<SettingsInput>;

/** Defaults, used for every setting no source gives. */
export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  ...Object.fromEntries(SETTING_NAMES.map((name) => [name, SETTINGS[name].default])),
  interfaceOverrides: {},
}) as Settings;

/** A named source of settings, e.g. the command line or a file path. */
export interface SettingsLayer {
  /** How errors name the source: a file path, or "flags". */
  source: string;
  /** Untrusted values to check. */
  values: unknown;
  /** Turns a field name into what the user typed: the flag, the UCI option. */
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
 * A layer the schema has checked: {@link resolveSettings} takes its values
 * as they are, so no source is parsed twice.
 */
export interface CheckedSettingsLayer extends SettingsLayer {
  /** The values, as the schema returned them. */
  readonly checked: SettingsInput;
}

/**
 * Checks one source, keeping the result.
 *
 * @throws {ConfigError} naming the source, the field and the problem
 */
export function checkSettingsLayer(layer: SettingsLayer): CheckedSettingsLayer {
  return { ...layer, checked: parseSettingsLayer(layer) };
}

/**
 * Merges sources, later ones winning (pass defaults' overrides in order:
 * file, then flags), and checks the rules that span fields. A layer not
 * checked yet is checked here.
 *
 * @throws {ConfigError} for a bad value or a threshold below 180 s without force
 */
export function resolveSettings(
  layers: readonly (SettingsLayer | CheckedSettingsLayer)[],
): Settings {
  const merged: Settings = { ...DEFAULT_SETTINGS, exclude: [...DEFAULT_SETTINGS.exclude] };
  // Which layer gave each setting, so that a rule spanning fields names it.
  const givenBy = new Map<string, SettingsLayer>();
  for (const layer of layers) {
    const input = "checked" in layer ? layer.checked : parseSettingsLayer(layer);
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
 * A threshold below its safe minimum (REJECT_AFTER_TIME) cuts live sessions:
 * it needs forceShortThreshold, from any source, and is at least 1 even then.
 */
function checkThresholds(merged: Settings, givenBy: ReadonlyMap<string, SettingsLayer>): void {
  const forced = merged.forceShortThreshold;
  const { bounds, safeMin } = SETTINGS.staleAfter.type;
  const min = forced ? bounds.min : safeMin;
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
      : `below ${safeMin} s, live WireGuard sessions are cut; ${force} allows it, ` +
        "for demos and tests";
    throw new ConfigError(problemIn(layer, path, `must be at least ${min}`, detail));
  }
}
