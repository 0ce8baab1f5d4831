/**
 * Captures the tool's log lines in memory, formatted as they would be
 * printed, for tests that check what is logged (and what never is).
 *
 * @module
 */
import type { LogRecord } from "@logtape/logtape";
import { lineFormatter, startLogging, stopLogging } from "../../src/cli/log.ts";

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
