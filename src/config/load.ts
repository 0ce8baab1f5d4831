/**
 * Resolves the effective settings of a command: defaults, then the JSON file
 * given with `--config`, then flags.
 *
 * @module
 */
import { loadJsonSettings } from "./json_file.ts";
import { resolveSettings, type Settings, type SettingsLayer } from "./schema.ts";

/**
 * @param configPath `--config FILE`, or null for none
 * @param flags the command line's settings
 * @throws {ConfigError} naming the source and field of the first problem
 */
export async function loadSettings(
  configPath: string | null,
  flags: SettingsLayer,
): Promise<Settings> {
  const layers: SettingsLayer[] = [];
  if (configPath !== null) layers.push(await loadJsonSettings(configPath));
  layers.push(flags);
  return resolveSettings(layers);
}
