/**
 * Maps `/etc/config/wg-reinstate` onto the settings schema:
 *
 * ```
 * config wg-reinstate 'main'
 *     option enabled '1'           # read by the init script
 *     option interval '30'
 *     option stale_after '180'
 *     list interface 'wg0'         # none: every WireGuard interface
 *     list exclude '<public key>'
 * config interface 'wg0'           # optional, per interface
 *     option stale_after '300'
 *     list exclude '<public key>'
 * ```
 *
 * @module
 */
import { ConfigError } from "../common/errors.ts";
import { UCI_NETWORK_PATH } from "../common/paths.ts";
import { parseConfig, readConfigText } from "./read_file.ts";
import { parseSettingsLayer, type SettingsLayer } from "./schema.ts";
import { listValues, parseUci, type UciPackage, type UciSection } from "./uci.ts";

const UCI_TRUE = new Set(["1", "yes", "on", "true", "enabled"]);
const UCI_FALSE = new Set(["0", "no", "off", "false", "disabled"]);

/** The datatype of each option in the main section, and the setting it feeds. */
const MAIN_OPTIONS: Record<
  string,
  { kind: "bool" | "uint" | "number" | "string" | "list"; field: string | null }
> = {
  enabled: { kind: "bool", field: null },
  interval: { kind: "uint", field: "interval" },
  stale_after: { kind: "uint", field: "staleAfter" },
  force_short_threshold: { kind: "bool", field: "forceShortThreshold" },
  log_level: { kind: "string", field: "logLevel" },
  log_format: { kind: "string", field: "logFormat" },
  dry_run: { kind: "bool", field: "dryRun" },
  interface: { kind: "list", field: "interfaces" },
  exclude: { kind: "list", field: "exclude" },
  wg: { kind: "string", field: "wg" },
  wg_timeout: { kind: "number", field: "wgTimeout" },
  wg_quick_config: { kind: "string", field: "wgQuickConfig" },
  network_config: { kind: "string", field: "networkConfig" },
  key_dir: { kind: "string", field: "keyDir" },
  status_file: { kind: "string", field: "statusFile" },
  metrics_file: { kind: "string", field: "metricsFile" },
};

/** The options of the main section, for the init script's validation to match. */
export const UCI_MAIN_OPTIONS: readonly string[] = Object.keys(MAIN_OPTIONS);

const INTERFACE_OPTIONS: Record<string, { kind: "uint" | "list"; field: string }> = {
  stale_after: { kind: "uint", field: "staleAfter" },
  exclude: { kind: "list", field: "exclude" },
};

/** The options of a per-interface section, for the LuCI app's form to match. */
export const UCI_INTERFACE_OPTIONS: readonly string[] = Object.keys(INTERFACE_OPTIONS);

/** A UCI boolean as OpenWrt reads it, or an error naming the option. */
export function uciBool(value: string, where: string): boolean {
  if (UCI_TRUE.has(value)) return true;
  if (UCI_FALSE.has(value)) return false;
  throw new ConfigError(
    `${where}: ${
      JSON.stringify(value)
    } is not a boolean (1/0, yes/no, on/off, true/false, enabled/disabled)`,
  );
}

function convert(section: UciSection, option: string, kind: string, where: string): unknown {
  if (kind === "list") return listValues(section, option);
  const raw = section.options.get(option)!;
  if (raw.kind === "list") throw new ConfigError(`${where}: must be an option, not a list`);
  const value = raw.value;
  if (kind === "bool") return uciBool(value, where);
  if (kind === "uint" && !/^\d+$/.test(value)) {
    throw new ConfigError(`${where}: ${JSON.stringify(value)} is not a whole number`);
  }
  if (kind === "number" && !/^\d+(\.\d+)?$/.test(value)) {
    throw new ConfigError(`${where}: ${JSON.stringify(value)} is not a number`);
  }
  return kind === "string" ? value : Number(value);
}

/** The `enabled` option of the main section (default true). */
export function uciEnabled(pkg: UciPackage, source: string): boolean {
  let enabled = true;
  for (const s of pkg.sections.filter((s) => s.type === "wg-reinstate")) {
    const v = s.options.get("enabled");
    if (v !== undefined) {
      enabled = convert(s, "enabled", "bool", `${source}: option enabled`) as boolean;
    }
  }
  return enabled;
}

/**
 * Turns the service's UCI package into a settings layer. The network config
 * defaults to /etc/config/network, since a UCI config means OpenWrt.
 *
 * @throws {ConfigError} for an unknown section or option, or a value of the wrong type
 */
export function uciSettingsLayer(pkg: UciPackage, source: string): SettingsLayer {
  const values: Record<string, unknown> = { networkConfig: UCI_NETWORK_PATH };
  const overrides: Record<string, Record<string, unknown>> = {};
  for (const section of pkg.sections) {
    const at = `${source}:${section.line}: config ${section.type} '${section.name}'`;
    if (section.type === "wg-reinstate") {
      for (const option of section.options.keys()) {
        const spec = Object.hasOwn(MAIN_OPTIONS, option) ? MAIN_OPTIONS[option] : undefined;
        if (spec === undefined) throw new ConfigError(`${at}: unknown option ${option}`);
        const value = convert(section, option, spec.kind, `${at}: option ${option}`);
        if (spec.field !== null) values[spec.field] = value;
      }
      // No interfaces listed means every WireGuard interface.
      if ((values.interfaces as string[] | undefined)?.length === 0) values.interfaces = "all";
    } else if (section.type === "interface") {
      const override = (overrides[section.name] ??= {});
      for (const option of section.options.keys()) {
        const spec = Object.hasOwn(INTERFACE_OPTIONS, option)
          ? INTERFACE_OPTIONS[option]
          : undefined;
        if (spec === undefined) throw new ConfigError(`${at}: unknown option ${option}`);
        override[spec.field] = convert(section, option, spec.kind, `${at}: option ${option}`);
      }
    } else {
      throw new ConfigError(`${at}: unknown section type (expected wg-reinstate or interface)`);
    }
  }
  if (Object.keys(overrides).length > 0) values.interfaceOverrides = overrides;
  const optionOf = Object.fromEntries(
    Object.entries(MAIN_OPTIONS).filter(([, s]) => s.field !== null).map(([o, s]) => [s.field, o]),
  );
  const layer: SettingsLayer = {
    source,
    values,
    fieldName: (key) =>
      key === "interfaceOverrides" ? "config interface" : `option ${optionOf[key] ?? key}`,
  };
  parseSettingsLayer(layer);
  return layer;
}

/** Reads and parses a UCI file; a syntax error becomes a {@link ConfigError}. */
export async function readUci(path: string): Promise<UciPackage> {
  const text = await readConfigText(path, "UCI file");
  return parseConfig(() => parseUci(text, path));
}

/** Loads the service's UCI config as a settings layer. */
export async function loadUciSettings(path: string): Promise<SettingsLayer> {
  return uciSettingsLayer(await readUci(path), path);
}
