/**
 * Reading config files with errors that name the file and say why.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

/** A short reason for a file-system error, without a stack. */
export function describeFsError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotCapable) return "not allowed by the runtime's permissions";
  if (error instanceof Deno.errors.IsADirectory) return "is a directory";
  return error instanceof Error ? error.message : String(error);
}

/**
 * Reads a config file as text.
 *
 * @param what the kind of file, for the message: "config file", "UCI file"
 * @throws {ConfigError} `<path>: cannot read <what>: <reason>`
 */
export async function readConfigText(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(`${path}: cannot read ${what}: ${describeFsError(error)}`);
  }
}
