/**
 * Loads the JSON config file given with `--config`.
 *
 * @module
 */
import { ConfigError } from "../common/errors.ts";
import { readConfigText } from "./read_file.ts";
import { parseSettingsLayer, type SettingsLayer } from "./schema.ts";

/**
 * Reads and checks a JSON settings file. Keys are the schema's names
 * (`staleAfter`, `exclude`, ...).
 *
 * @throws {ConfigError} when the file cannot be read, is not JSON, or a field is invalid
 */
export async function loadJsonSettings(path: string): Promise<SettingsLayer> {
  const text = await readConfigText(path, "config file");
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${path}: not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const layer = { source: path, values };
  parseSettingsLayer(layer);
  return layer;
}
