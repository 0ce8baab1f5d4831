/**
 * Loads the JSON config file given with `--config`.
 *
 * @module
 */
import { ConfigError } from "../common/errors.ts";
import { readConfigText } from "./read_file.ts";
import { type CheckedSettingsLayer, checkSettingsLayer } from "./schema.ts";

/**
 * Reads and checks a JSON settings file. Keys are the settings' names (see
 * ./settings_registry.ts).
 *
 * @throws {ConfigError} when the file cannot be read, is not JSON, or a field is invalid
 */
export async function loadJsonSettings(path: string): Promise<CheckedSettingsLayer> {
  const text = await readConfigText(path, "config file");
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${path}: not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return checkSettingsLayer({ source: path, values });
}
