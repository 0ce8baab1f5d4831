/**
 * Logging through LogTape: text or JSON lines on stderr. Every line passes
 * through {@link redactText} before it is written, as a last guard behind the
 * rule that endpoints and keys are never put into log messages at all.
 *
 * @module
 */
import {
  configureSync,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogRecord,
  resetSync,
  type Sink,
} from "@logtape/logtape";
import { writeAllSync } from "../common/write_all.ts";
import type { Settings } from "../config/schema.ts";
import { REJECT_AFTER_TIME } from "../wg/constants.ts";
import { redactText } from "../wg/redact.ts";

/** The root category of every logger in the tool. */
export const LOG_CATEGORY = "wg-reinstate";

/** A logger under the tool's category, e.g. `logger("purge")`. */
export function logger(name: string): Logger {
  return getLogger([LOG_CATEGORY, name]);
}

/** Formats records for people (text) or machines (JSON lines), before redaction. */
export function lineFormatter(format: Settings["logFormat"]): (record: LogRecord) => string {
  if (format === "json") return jsonLine;
  // Strings are printed bare, so "wg0: 3 purged" does not read as "\"wg0\": 3 purged".
  return getTextFormatter({ timestamp: "date-time-tz", value: renderValue });
}

function renderValue(value: unknown): string {
  return typeof value === "string" ? value : Deno.inspect(value);
}

/**
 * One JSON object per line: time, level, rendered message, category and the
 * structured properties. (LogTape's own JSON formatter quotes string values
 * inside the message.)
 */
function jsonLine(record: LogRecord): string {
  const message = record.message
    .map((part, i) => (i % 2 === 0 ? part : renderValue(part)))
    .join("");
  return JSON.stringify({
    "@timestamp": new Date(record.timestamp).toISOString(),
    level: record.level,
    message,
    logger: record.category.join("."),
    properties: record.properties,
  }) + "\n";
}

/**
 * A sink writing formatted, redacted lines to stderr synchronously, so that
 * nothing is lost when the process exits right after logging and no stream
 * stays open between cycles.
 */
export function stderrSink(format: Settings["logFormat"]): Sink {
  const formatter = lineFormatter(format);
  return (record: LogRecord) => writeAllSync(Deno.stderr, redactText(formatter(record)));
}

/**
 * Sets up logging for one command run. Call {@link stopLogging} when done.
 *
 * @param sink where records go; defaults to stderr in the configured format
 */
export function startLogging(
  settings: Pick<Settings, "logLevel" | "logFormat">,
  sink: Sink = stderrSink(settings.logFormat),
): void {
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
      "stale-after is {staleAfter} s, below {limit} s: live sessions will be cut (forced)",
      { staleAfter: settings.staleAfter, limit: REJECT_AFTER_TIME },
    );
  }
}
