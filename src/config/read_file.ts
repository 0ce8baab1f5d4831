/**
 * Reading and parsing config files, with errors that name the file and say why.
 *
 * A config file must be a regular file of at most {@link MAX_CONFIG_BYTES}:
 * what the path names is looked at (`stat`) before it is opened, so a FIFO,
 * which would block the open until a writer came, or `/dev/zero`, which
 * never ends, is refused at once.
 *
 * @module
 */
import { ConfigError, ParseError } from "../common/errors.ts";
import { describeFsError } from "../common/fs_errors.ts";
import { fileKind } from "../common/safe_path.ts";

/**
 * The largest config file read: 32 MiB. A wg-quick file for 65,536 peers is
 * about 12 MB and the UCI and JSON files are far smaller, so only a mistake
 * (a log or a disk image named as the config) reaches it.
 */
export const MAX_CONFIG_BYTES = 32 * 1024 * 1024;

/** A path that names something other than a regular file: a FIFO, a device, a socket. */
export class NotRegularFileError extends TypeError {
  /** @param kind what the path names, e.g. `a FIFO` */
  constructor(kind: string, options?: ErrorOptions) {
    super(`is ${kind}, not a regular file`, options);
    this.name = "NotRegularFileError";
  }
}

/** A file larger than the limit it is read with. */
export class FileTooLargeError extends RangeError {
  /** @param limit the limit in bytes */
  constructor(limit: number, options?: ErrorOptions) {
    super(`larger than the limit of ${describeBytes(limit)}`, options);
    this.name = "FileTooLargeError";
  }
}

/** `32 MiB (33554432 bytes)` for whole mebibytes, otherwise the bytes. */
function describeBytes(bytes: number): string {
  return bytes % 1048576 === 0 ? `${bytes / 1048576} MiB (${bytes} bytes)` : `${bytes} bytes`;
}

/**
 * Reads a regular file as text (UTF-8, a byte-order mark kept), at most
 * `limit` bytes. The path is looked at before it is opened, and what was
 * opened is checked to be a regular file too.
 *
 * @throws {Deno.errors.IsADirectory} for a directory
 * @throws {NotRegularFileError} for a FIFO, a device or a socket
 * @throws {FileTooLargeError} above `limit`
 * @throws the file system's own errors (`Deno.errors.NotFound`, …) as they are
 */
export async function readRegularText(path: string, limit = MAX_CONFIG_BYTES): Promise<string> {
  const info = await Deno.stat(path);
  if (info.isDirectory) throw new Deno.errors.IsADirectory(`${path} is a directory`);
  if (!info.isFile) throw new NotRegularFileError(fileKind(info));
  if (info.size > limit) throw new FileTooLargeError(limit);
  using file = await Deno.open(path, { read: true });
  const opened = await file.stat();
  // Swapped for a FIFO since the stat: the open may have waited, the reads won't.
  if (!opened.isFile) throw new NotRegularFileError(fileKind(opened));
  // The size from stat is a hint: a file may grow, and /proc files say 0.
  let buffer = new Uint8Array(Math.min(opened.size, limit) + 1);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (length > limit) throw new FileTooLargeError(limit);
      const bigger = new Uint8Array(Math.min(buffer.length * 2, limit + 1));
      bigger.set(buffer);
      buffer = bigger;
    }
    const read = await file.read(buffer.subarray(length));
    if (read === null) break;
    length += read;
  }
  return new TextDecoder("utf-8", { ignoreBOM: true }).decode(buffer.subarray(0, length));
}

/**
 * Reads a config file as text, as {@link readRegularText} does.
 *
 * @param what the kind of file, for the message: "config file", "UCI file"
 * @throws {ConfigError} `<path>: cannot read <what>: <reason>`
 */
export async function readConfigText(path: string, what: string): Promise<string> {
  try {
    return await readRegularText(path);
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
