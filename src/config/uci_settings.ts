/**
 * Maps `/etc/config/wg-reinstate` onto the settings. Its `config wg-reinstate
 * 'main'` section holds `enabled` (read by the init script) and an option, or
 * a list, for each setting the registry (./settings_registry.ts) gives a UCI
 * name; a `config interface '<iface>'` section holds, for that interface,
 * those an interface may override. openwrt/files/wg-reinstate.config shows
 * them.
 *
 * @module
 */
import { ConfigError } from "../common/errors.ts";
import { UCI_NETWORK_PATH } from "../common/paths.ts";
import { IFACE_NAME_PATTERN, WG_KEY_SOURCE } from "../wg/constants.ts";
import { parseConfig, readConfigText } from "./read_file.ts";
import { type CheckedSettingsLayer, checkSettingsLayer } from "./schema.ts";
import {
  isSettingName,
  PER_INTERFACE_NAMES,
  SETTING_NAMES,
  type SettingName,
  type SettingSpec,
  settingSpec,
} from "./settings_registry.ts";
import { listValues, parseUci, quoteWord, type UciPackage, type UciSection } from "./uci.ts";

const UCI_TRUE = new Set(["1", "yes", "on", "true", "enabled"]);
const UCI_FALSE = new Set(["0", "no", "off", "false", "disabled"]);

/** How an option's text is read. */
type UciKind = "bool" | "uint" | "number" | "string" | "list";

/** One option of a section. */
interface UciOption {
  kind: UciKind;
  /** The setting it feeds; null for `enabled`. */
  field: SettingName | null;
  /** The init script's datatype (OpenWrt's `validate_data`), which the LuCI form shares. */
  datatype: string;
  /** The default the init script's validation states, if it states one. */
  default?: string;
}

/** The option that decides whether the service starts: the init script's, not a setting. */
const ENABLED = "enabled";

/** How UCI spells a setting's values, and OpenWrt's datatype for them. */
function uciOption(field: SettingName, spec: SettingSpec): UciOption {
  const type = spec.type;
  switch (type.kind) {
    case "switch":
      return { kind: "bool", field, datatype: "bool", default: spec.default ? "1" : "0" };
    case "number": {
      const { min, max, whole } = type.bounds;
      return {
        kind: whole ? "uint" : "number",
        field,
        datatype: whole
          ? `range(${min},${max})`
          : `and(ufloat,${min > 0 ? `min(${min}),` : ""}max(${max}))`,
        default: String(spec.default),
      };
    }
    case "choice":
      return {
        kind: "string",
        field,
        datatype: `or(${type.values.map((v) => JSON.stringify(v)).join(",")})`,
        default: String(spec.default),
      };
    case "text":
      return { kind: "string", field, datatype: spec.uciDatatype ?? "string" };
    case "interfaces":
      // The shell cannot import the patterns: the datatype quotes the program's own.
      return {
        kind: "list",
        field,
        datatype: `list(regex("${IFACE_NAME_PATTERN.source.slice(1, -1)}"))`,
      };
    case "keys":
      return { kind: "list", field, datatype: `list(regex("${WG_KEY_SOURCE}"))` };
  }
}

/** The options of the settings among `names` that UCI sets, by option name. */
function uciOptions(names: readonly SettingName[]): Map<string, UciOption> {
  const out = new Map<string, UciOption>();
  for (const name of names) {
    const spec = settingSpec(name);
    if (spec.uci !== null) out.set(spec.uci, uciOption(name, spec));
  }
  return out;
}

/** The options of the main section, by name. */
const MAIN_OPTIONS: ReadonlyMap<string, UciOption> = new Map([
  [ENABLED, { kind: "bool", field: null, datatype: "bool", default: "1" }],
  ...uciOptions(SETTING_NAMES),
]);

/** The options of a per-interface section, by name. */
const INTERFACE_OPTIONS: ReadonlyMap<string, UciOption> = uciOptions(PER_INTERFACE_NAMES);

/** The options of the main section. */
export const UCI_MAIN_OPTIONS: readonly string[] = [...MAIN_OPTIONS.keys()];

/** The options of a per-interface section. */
export const UCI_INTERFACE_OPTIONS: readonly string[] = [...INTERFACE_OPTIONS.keys()];

/** The datatype of each option, as the init script and the LuCI form check it. */
export const UCI_DATATYPES: ReadonlyMap<string, string> = new Map(
  [...MAIN_OPTIONS].map(([name, option]) => [name, option.datatype]),
);

/** The defaults the init script's validation states, by option. */
export const UCI_DEFAULTS: ReadonlyMap<string, string> = new Map(
  [...MAIN_OPTIONS].flatMap(([name, o]) => o.default === undefined ? [] : [[name, o.default]]),
);

/**
 * The init script's `uci_load_validate` specs of the main section,
 * `option:datatype[:default]`, which tests hold the script to.
 */
export const UCI_VALIDATION: readonly string[] = [...MAIN_OPTIONS].map(([name, o]) =>
  [name, o.datatype, ...(o.default === undefined ? [] : [o.default])].join(":")
);

/** The UCI option of a setting, as a message names it. */
function optionName(field: string): string {
  if (field === "interfaceOverrides") return "config interface";
  const uci = isSettingName(field) ? settingSpec(field).uci : null;
  return `option ${uci ?? field}`;
}

/** A UCI boolean as OpenWrt reads it, or an error naming the option. */
export function uciBool(value: string, where: string): boolean {
  if (UCI_TRUE.has(value)) return true;
  if (UCI_FALSE.has(value)) return false;
  throw new ConfigError(
    `${where}: ${
      quoteWord(value)
    } is not a boolean (1/0, yes/no, on/off, true/false, enabled/disabled)`,
  );
}

function convert(section: UciSection, option: string, kind: UciKind, where: string): unknown {
  if (kind === "list") return listValues(section, option);
  const raw = section.options.get(option)!;
  if (raw.kind === "list") throw new ConfigError(`${where}: must be an option, not a list`);
  const value = raw.value;
  if (kind === "bool") return uciBool(value, where);
  if (kind === "uint" && !/^\d+$/.test(value)) {
    throw new ConfigError(`${where}: ${quoteWord(value)} is not a whole number`);
  }
  if (kind === "number" && !/^\d+(\.\d+)?$/.test(value)) {
    throw new ConfigError(`${where}: ${quoteWord(value)} is not a number`);
  }
  return kind === "string" ? value : Number(value);
}

/** The `enabled` option of the main section (default true). */
export function uciEnabled(pkg: UciPackage, source: string): boolean {
  let enabled = true;
  for (const s of pkg.sections.filter((s) => s.type === "wg-reinstate")) {
    if (s.options.has(ENABLED)) {
      enabled = convert(s, ENABLED, "bool", `${source}: option ${ENABLED}`) as boolean;
    }
  }
  return enabled;
}

/**
 * The settings a section's options give, each read as `options` says.
 *
 * @param at the section, as messages name it: `file:line: config TYPE 'NAME'`
 */
function sectionValues(
  section: UciSection,
  options: ReadonlyMap<string, UciOption>,
  at: string,
): Map<SettingName, unknown> {
  const values = new Map<SettingName, unknown>();
  for (const option of section.options.keys()) {
    const spec = options.get(option);
    if (spec === undefined) throw new ConfigError(`${at}: unknown option ${option}`);
    const value = convert(section, option, spec.kind, `${at}: option ${option}`);
    if (spec.field !== null) values.set(spec.field, value);
  }
  return values;
}

/**
 * Turns the service's UCI package into a settings layer, checked. The network
 * config defaults to /etc/config/network, since a UCI config means OpenWrt.
 *
 * @throws {ConfigError} for an unknown section or option, or a value of the wrong type
 */
export function uciSettingsLayer(pkg: UciPackage, source: string): CheckedSettingsLayer {
  const values = new Map<string, unknown>([["networkConfig", UCI_NETWORK_PATH]]);
  // By section name: an interface may be called `constructor` or `__proto__`.
  const overrides = new Map<string, Map<SettingName, unknown>>();
  for (const section of pkg.sections) {
    const at = `${source}:${section.line}: config ${section.type} '${section.name}'`;
    if (section.type === "wg-reinstate") {
      for (const [field, value] of sectionValues(section, MAIN_OPTIONS, at)) {
        values.set(field, value);
      }
      // No interfaces listed means every WireGuard interface.
      if ((values.get("interfaces") as string[] | undefined)?.length === 0) {
        values.set("interfaces", "all");
      }
    } else if (section.type === "interface") {
      const override = overrides.get(section.name) ?? new Map<SettingName, unknown>();
      for (const [field, value] of sectionValues(section, INTERFACE_OPTIONS, at)) {
        override.set(field, value);
      }
      overrides.set(section.name, override);
    } else {
      throw new ConfigError(`${at}: unknown section type (expected wg-reinstate or interface)`);
    }
  }
  if (overrides.size > 0) {
    values.set(
      "interfaceOverrides",
      Object.fromEntries([...overrides].map(([name, o]) => [name, Object.fromEntries(o)])),
    );
  }
  return checkSettingsLayer({ source, values: Object.fromEntries(values), fieldName: optionName });
}

/** Reads and parses a UCI file; a syntax error becomes a {@link ConfigError}. */
export async function readUci(path: string): Promise<UciPackage> {
  const text = await readConfigText(path, "UCI file");
  return parseConfig(() => parseUci(text, path));
}

/** Loads the service's UCI config as a settings layer, checked. */
export async function loadUciSettings(path: string): Promise<CheckedSettingsLayer> {
  return uciSettingsLayer(await readUci(path), path);
}
