/**
 * Logging through LogTape: text or JSON lines, debug and info on stdout,
 * warning and error on stderr, so that a supervisor that maps the streams to
 * priorities (procd: `daemon.info` and `daemon.err`) files each line right.
 * Every line passes through {@link redactText} before it is written, as a
 * last guard behind the rule that endpoints and keys are never put into log
 * messages at all.
 *
 * @module
 */
import {
  configureSync,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogLevel,
  type LogRecord,
  resetSync,
  type Sink,
} from "@logtape/logtape";
import { writeAllSync } from "../common/write_all.ts";
import type { Settings } from "../config/schema.ts";
import { SETTINGS } from "../config/settings_registry.ts";
import { REJECT_AFTER_TIME } from "../wg/constants.ts";
import { redactText } from "../wg/redact.ts";

/** The root category of every logger in the tool. */
export const LOG_CATEGORY = "wg-reinstate";

/** A logger under the tool's category, e.g. `logger("purge")`. */
export function logger(name: string): Logger {
  return getLogger([LOG_CATEGORY, name]);
}

/** How lines are written, decided once per process by {@link logStyle}. */
export interface LogStyle {
  /** Our own time stamp on each line; off where the supervisor stamps lines itself. */
  timestamps: boolean;
  /** Every level to stderr: stdout carries a document (`--json`). */
  allToStderr: boolean;
  /**
   * The streams journald reads: their lines start with an sd-daemon priority
   * prefix (`<4>`), since journald gives every line of a stream one priority
   * otherwise.
   */
  journal: { stdout: boolean; stderr: boolean };
}

/** What {@link logStyle} looks at; injected so tests need no supervisor. */
export interface LogEnvironment {
  /** `JOURNAL_STREAM` (`DEV:INODE` of the stream systemd connected to journald), or undefined. */
  journalStream: string | undefined;
  /** `DEV:INODE` of file descriptor 1 or 2, or null when it cannot be read. */
  streamId: (fd: 1 | 2) => string | null;
}

/**
 * Decides the {@link LogStyle}. Time stamps `auto` drops our time stamp
 * when journald reads a stream (systemd sets `JOURNAL_STREAM`; checked
 * against the stream itself, since the variable is inherited by children
 * whose output goes elsewhere); the OpenWrt init script passes `off`, as
 * logd stamps lines too.
 */
export function logStyle(
  timestamps: Settings["logTimestamps"],
  allToStderr: boolean,
  env: LogEnvironment,
): LogStyle {
  const journal = { stdout: false, stderr: false };
  if (env.journalStream !== undefined && /^\d+:\d+$/.test(env.journalStream)) {
    journal.stdout = !allToStderr && env.streamId(1) === env.journalStream;
    journal.stderr = env.streamId(2) === env.journalStream;
  }
  const supervised = journal.stdout || journal.stderr;
  return {
    timestamps: timestamps === "on" || (timestamps === "auto" && !supervised),
    allToStderr,
    journal,
  };
}

/** The process's own environment for {@link logStyle}. */
export async function processLogEnvironment(): Promise<LogEnvironment> {
  let journalStream: string | undefined;
  try {
    journalStream = Deno.env.get("JOURNAL_STREAM");
  } catch {
    journalStream = undefined; // No permission to read it: not under systemd as far as we know.
  }
  if (journalStream === undefined) return { journalStream, streamId: () => null };
  // node:fs only here: fstat of a descriptor needs no read permission.
  const { fstatSync } = await import("node:fs");
  return {
    journalStream,
    streamId: (fd) => {
      try {
        const s = fstatSync(fd);
        return `${s.dev}:${s.ino}`;
      } catch {
        return null;
      }
    },
  };
}

/** sd-daemon(3) priorities of LogTape's levels. */
const SYSLOG_PRIORITY: Record<LogLevel, number> = {
  trace: 7,
  debug: 7,
  info: 6,
  warning: 4,
  error: 3,
  fatal: 2,
};

/** Whether a level goes to stderr (warning and worse) rather than stdout. */
export function toStderr(level: LogLevel): boolean {
  return SYSLOG_PRIORITY[level] <= SYSLOG_PRIORITY.warning;
}

/** Formats records for people (text) or machines (JSON lines), before redaction. */
export function lineFormatter(
  format: Settings["logFormat"],
  timestamps = true,
): (record: LogRecord) => string {
  if (format === "json") return (record) => jsonLine(record, timestamps);
  // Strings are printed bare, so "wg0: 3 purged" does not read as "\"wg0\": 3 purged".
  return getTextFormatter({ timestamp: timestamps ? "date-time-tz" : "none", value: renderValue });
}

function renderValue(value: unknown): string {
  return typeof value === "string" ? value : Deno.inspect(value);
}

/**
 * One JSON object per line: time (unless the supervisor stamps lines),
 * level, rendered message, category and the structured properties.
 * (LogTape's own JSON formatter quotes string values inside the message.)
 */
function jsonLine(record: LogRecord, timestamps: boolean): string {
  const message = record.message
    .map((part, i) => (i % 2 === 0 ? part : renderValue(part)))
    .join("");
  return JSON.stringify({
    ...(timestamps ? { "@timestamp": new Date(record.timestamp).toISOString() } : {}),
    level: record.level,
    message,
    logger: record.category.join("."),
    properties: record.properties,
  }) + "\n";
}

/** Where a line goes: standard output or standard error. */
export type LineWriter = (stream: "stdout" | "stderr", line: string) => void;

const processStreams: LineWriter = (stream, line) =>
  writeAllSync(stream === "stdout" ? Deno.stdout : Deno.stderr, line);

/**
 * A sink writing formatted, redacted lines synchronously, so that nothing is
 * lost when the process exits right after logging and no stream stays open
 * between cycles: each level to its stream, as {@link LogStyle} says.
 */
export function streamSink(
  format: Settings["logFormat"],
  style: LogStyle,
  write: LineWriter = processStreams,
): Sink {
  const formatter = lineFormatter(format, style.timestamps);
  return (record: LogRecord) => {
    const stream = style.allToStderr || toStderr(record.level) ? "stderr" : "stdout";
    const prefix = style.journal[stream] ? `<${SYSLOG_PRIORITY[record.level]}>` : "";
    // journald reads each line on its own: every line of a record gets the prefix.
    const text = redactText(formatter(record));
    write(stream, prefix === "" ? text : prefix + text.replace(/\n(?=.)/g, `\n${prefix}`));
  };
}

/** Sets up logging for one command run with `sink`. Call {@link stopLogging} when done. */
export function startLogging(settings: Pick<Settings, "logLevel">, sink: Sink): void {
  configureSync({
    reset: true,
    sinks: { main: sink },
    loggers: [
      { category: [LOG_CATEGORY], lowestLevel: settings.logLevel, sinks: ["main"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["main"] },
    ],
  });
}

/** Tears logging down again. */
export function stopLogging(): void {
  resetSync();
}

/** Warns when the settings cut live sessions (a threshold below 180 s, forced). */
export function warnAboutSettings(settings: Pick<Settings, "staleAfter">): void {
  if (settings.staleAfter < REJECT_AFTER_TIME) {
    logger("config").warning(
      `${SETTINGS.staleAfter.flag} is {staleAfter} s, below {limit} s: live sessions will be cut ` +
        "(forced)",
      { staleAfter: settings.staleAfter, limit: REJECT_AFTER_TIME },
    );
  }
}
