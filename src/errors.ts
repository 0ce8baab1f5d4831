/**
 * The project's own error types. Every failure the tool reports is one of
 * these, so the CLI can map it to an exit code and a one-line message.
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

/** Bad command-line usage or configuration. Exit code 2; nothing is changed. */
export class ConfigError extends Error {
  /** @param message one line naming the field and what is wrong with its value */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** `wg` output that does not have the documented shape. Nothing is changed. */
export class DumpParseError extends Error {
  /**
   * @param line 1-based line number in the dump
   * @param field the dump column that failed
   * @param problem what is wrong; never the value itself when it is secret or an address
   */
  constructor(readonly line: number, readonly field: string, readonly problem: string) {
    super(`unexpected wg output: line ${line}, field ${field}: ${problem}`);
    this.name = "DumpParseError";
  }
}

/** Why a `wg` invocation failed. */
export type WgFailureKind =
  | "not-found"
  | "no-interface"
  | "permission"
  | "timeout"
  | "argv-too-long"
  | "failed";

/** A `wg` invocation that could not run or exited non-zero. */
export class WgError extends Error {
  /**
   * @param kind the class of failure, for callers that react to it
   * @param message one line, already redacted
   */
  constructor(readonly kind: WgFailureKind, message: string) {
    super(message);
    this.name = "WgError";
  }
}

/** A preshared-key file could not be written (disk full, no temp dir). Nothing was changed. */
export class SecretFileError extends Error {
  /** @param message names the directory and the reason, never the secret */
  constructor(message: string) {
    super(message);
    this.name = "SecretFileError";
  }
}

/** A runtime failure of the tool's own files (lock directory). Exit code 1. */
export class RuntimeError extends Error {
  /** @param message one line naming the path and the reason */
  constructor(message: string) {
    super(message);
    this.name = "RuntimeError";
  }
}
