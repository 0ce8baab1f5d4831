/**
 * Resolves the effective settings of a command: defaults, then the UCI file,
 * then the JSON file given with `--config`, then flags.
 *
 * @module
 */
import { loadJsonSettings } from "./json_file.ts";
import { resolveSettings, type Settings, type SettingsLayer } from "./schema.ts";
import { UCI_CONFIG_PATH } from "../common/paths.ts";

/** The files a command reads its settings from. */
export interface SettingsSources {
  /** `--config FILE` (JSON), or null. */
  configPath: string | null;
  /** `--uci FILE`, or null. */
  uciPath: string | null;
}

/**
 * The UCI file to read: `--uci`, or on OpenWrt (where
 * /etc/config/wg-reinstate exists) that file when no other config is named,
 * so that `status` and `config` show what the service does.
 */
export async function uciPathFor(sources: SettingsSources): Promise<string | null> {
  if (sources.uciPath !== null) return sources.uciPath;
  if (sources.configPath !== null) return null;
  try {
    await Deno.stat(UCI_CONFIG_PATH);
    return UCI_CONFIG_PATH;
  } catch {
    return null;
  }
}

/**
 * @param flags the command line's settings
 * @throws {ConfigError} naming the source and field of the first problem
 */
export async function loadSettings(
  sources: SettingsSources,
  flags: SettingsLayer,
): Promise<Settings> {
  const layers: SettingsLayer[] = [];
  const uci = await uciPathFor(sources);
  // The UCI reader is loaded only where there is UCI: on OpenWrt.
  if (uci !== null) layers.push(await (await import("./uci_settings.ts")).loadUciSettings(uci));
  if (sources.configPath !== null) layers.push(await loadJsonSettings(sources.configPath));
  layers.push(flags);
  return resolveSettings(layers);
}
