/**
 * Loads the JSON config file given with `--config`.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { parseSettingsLayer, type SettingsLayer } from "./schema.ts";

/**
 * Reads and checks a JSON settings file. Keys are the schema's names
 * (`staleAfter`, `exclude`, ...).
 *
 * @throws {ConfigError} when the file cannot be read, is not JSON, or a field is invalid
 */
export async function loadJsonSettings(path: string): Promise<SettingsLayer> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(`${path}: cannot read config file: ${describeFsError(error)}`);
  }
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${path}: not valid JSON: ${(error as Error).message}`);
  }
  const layer = { source: path, values };
  parseSettingsLayer(layer);
  return layer;
}

/** A short reason for a file-system error, without a stack. */
export function describeFsError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotCapable) return "not allowed by the runtime's permissions";
  if (error instanceof Deno.errors.IsADirectory) return "is a directory";
  return error instanceof Error ? error.message : String(error);
}
