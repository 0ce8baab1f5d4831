/**
 * Parses a whole `wg show … dump` text, as the lab and the unit tests read
 * it; the program itself parses the pipe a line at a time (src/wg/command.ts).
 *
 * @module
 */
import { DumpCollector, DumpParser, type WgInterface } from "../../src/wg/dump.ts";

/**
 * The interface of `wg show <name> dump` (one interface, no name column).
 *
 * @throws {ParseError} when a line or field does not fit
 */
export function parseInterfaceDump(name: string, text: string): WgInterface {
  return parseText(new DumpParser({ named: name }), text)[0];
}

/**
 * The interfaces of `wg show all dump`, in the order wg listed them.
 *
 * @throws {ParseError} when a line or field does not fit
 */
export function parseAllDump(text: string): WgInterface[] {
  return parseText(new DumpParser({ only: null }), text);
}

function parseText(parser: DumpParser, text: string): WgInterface[] {
  const collector = new DumpCollector();
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  for (const raw of lines) parser.line(raw, collector);
  parser.end();
  return collector.interfaces;
}
