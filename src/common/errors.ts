/**
 * The project's own error types. Every failure the tool reports is a
 * {@link WgReinstateError}, which carries the exit code the CLI ends with, so
 * `main` needs no list of classes: a new subclass states its own code.
 *
 * Parse errors are {@link ParseError}s, which subclass `SyntaxError` as
 * std's error classes do; the layer that reads the file wraps them in the
 * error it reports, with the parse error as `cause`.
 *
 * @module
 */

/** Exit codes of the `wg-reinstate` command. */
export const ExitCode = {
  /** The cycle (or command) completed as asked. */
  ok: 0,
  /** A runtime failure: `wg` failed, a peer had to be repaired, the interface is gone. */
  runtime: 1,
  /** Bad flags or a bad configuration file; nothing was changed. */
  usage: 2,
  /** Another wg-reinstate holds the lock of an interface; it was skipped. */
  busy: 3,
} as const;

/** One of the {@link ExitCode} values. */
export type ExitCodeValue = typeof ExitCode[keyof typeof ExitCode];

/** The base of every error the tool reports: a one-line message and an exit code. */
export class WgReinstateError extends Error {
  /** The exit code the CLI ends with when this error stops it. */
  readonly exitCode: ExitCodeValue;

  /**
   * @param message one line, already free of secrets and addresses
   * @param exitCode what the CLI exits with
   * @param options `cause`: the error this one reports
   */
  constructor(message: string, exitCode: ExitCodeValue, options?: ErrorOptions) {
    super(message, options);
    this.name = "WgReinstateError";
    this.exitCode = exitCode;
  }
}

/** Bad command-line usage or configuration. Exit code 2; nothing is changed. */
export class ConfigError extends WgReinstateError {
  /** @param message one line naming the field and what is wrong with its value */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.usage, options);
    this.name = "ConfigError";
  }
}

/** Why a `wg` invocation failed. */
export type WgFailureKind =
  | "not-found"
  | "no-interface"
  | "permission"
  | "timeout"
  | "argv-too-long"
  | "unexpected-output"
  | "failed";

/** A `wg` invocation that could not run, exited non-zero, or printed what does not parse. */
export class WgError extends WgReinstateError {
  /**
   * @param kind the class of failure, for callers that react to it
   * @param message one line, already redacted
   */
  constructor(readonly kind: WgFailureKind, message: string, options?: ErrorOptions) {
    super(message, ExitCode.runtime, options);
    this.name = "WgError";
  }
}

/** A preshared-key file or its directory could not be made or removed. */
export class KeyFileError extends WgReinstateError {
  /** @param message names the directory and the reason, never the secret */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.runtime, options);
    this.name = "KeyFileError";
  }
}

/** A runtime failure of the tool's own files (lock files, status and metrics files). Exit code 1. */
export class RuntimeError extends WgReinstateError {
  /** @param message one line naming the path and the reason */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.runtime, options);
    this.name = "RuntimeError";
  }
}

/**
 * A path that root would write to is not safe: its directory is not a real
 * directory owned by this process's user and writable by no one else, or a
 * file in it is not what was created. Exit code 2; nothing was changed.
 */
export class UnsafePathError extends ConfigError {
  /** @param message names the path and what makes it unsafe */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnsafePathError";
  }
}

/** Where in a text a parse error is. */
export interface ParsePosition {
  /** The file name, or what the text is (e.g. `wg show dump`). */
  source: string;
  /** 1-based line number. */
  line: number;
  /** The field or column that does not fit, when known. */
  field?: string;
}

/**
 * Text that does not have the expected shape: a config file, a UCI file or
 * `wg`'s output. The message is `source:line: field: problem`; it never
 * repeats a secret or an address from the text.
 */
export class ParseError extends SyntaxError {
  /** Where the problem is. */
  readonly position: ParsePosition;
  /** What is wrong, without the position. */
  readonly problem: string;

  /**
   * @param position the file (or output), line and field
   * @param problem what is wrong; never the value itself when it is secret or an address
   */
  constructor(position: ParsePosition, problem: string, options?: ErrorOptions) {
    const field = position.field === undefined ? "" : ` ${position.field}:`;
    super(`${position.source}:${position.line}:${field} ${problem}`, options);
    this.name = "ParseError";
    this.position = position;
    this.problem = problem;
  }
}
