/**
 * Captures the tool's log lines in memory, formatted as they would be
 * printed, for tests that check what is logged (and what never is).
 *
 * @module
 */
import type { LogRecord } from "@logtape/logtape";
import { lineFormatter, logger, startLogging, stopLogging } from "../../src/cli/log.ts";
import { type LogLine, writeLog } from "../../src/purge/report.ts";

/** Runs `fn` with logging at debug level into a list of text lines, and returns both. */
export async function withLogs<T>(fn: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const format = lineFormatter("text");
  startLogging(
    { logLevel: "debug" },
    (record: LogRecord) => lines.push(format(record).trimEnd()),
  );
  try {
    return { result: await fn(), lines };
  } finally {
    stopLogging();
  }
}

/** The text lines that `lines` come out as, written to the purge logger. */
export async function renderLines(lines: readonly LogLine[]): Promise<string[]> {
  return (await withLogs(() => Promise.resolve(writeLog(logger("purge"), lines)))).lines;
}
