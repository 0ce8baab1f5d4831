/**
 * Reading and parsing config files, with errors that name the file and say why.
 *
 * @module
 */
import { ConfigError, ParseError } from "../common/errors.ts";
import { describeFsError } from "../common/fs_errors.ts";

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
    throw new ConfigError(`${path}: cannot read ${what}: ${describeFsError(error)}`, {
      cause: error,
    });
  }
}

/**
 * Runs a parser over a config file's text; its {@link ParseError} (which
 * names file, line and field) becomes a {@link ConfigError}, exit code 2.
 */
export function parseConfig<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof ParseError) throw new ConfigError(error.message, { cause: error });
    throw error;
  }
}
