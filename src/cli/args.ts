/**
 * Command-line parsing: `node:util`'s `parseArgs` splits argv into tokens,
 * and this module judges them against the options the subcommand declares
 * (see {@link OPTIONS}), so that every problem reads one way:
 * `--flag: problem (see wg-reinstate CMD --help)`. Flags become a settings
 * layer checked by the same schema as the config files.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError } from "../common/errors.ts";
import { checkSettingsLayer, hasControlCharacter } from "../config/schema.ts";
import type { CheckedSettingsLayer } from "../config/schema.ts";
import { flagOf, type NumberBounds } from "../config/settings_registry.ts";
import { boundsOf, optionFor, type OptionName, OPTIONS, optionsHelp } from "./options.ts";

/** What a subcommand declares about its command line. */
export interface CommandSpec {
  /** One line for the main help. */
  summary: string;
  /** What the command does: the paragraph after its usage line. */
  description: string;
  /** The options it uses; it accepts no other, and `--help` lists these (and `--help`). */
  options: readonly OptionName[];
  /**
   * Whether it purges. Only then is a forced short threshold warned about:
   * `status` and `config` cut no session.
   */
  purges: boolean;
}

/** Loads a subcommand's spec (its module is loaded only when needed). */
export type SpecLoader<S extends CommandSpec = CommandSpec> = () => Promise<S>;

/** What the command line asks for. */
export type CommandLine<S extends CommandSpec = CommandSpec> =
  | { kind: "help"; text: string }
  | { kind: "version" }
  | {
    kind: "command";
    command: string;
    /** The subcommand named. */
    spec: S;
    /** `--config FILE`, or null. */
    configPath: string | null;
    /** `--uci FILE`, or null. */
    uciPath: string | null;
    /** The settings given as flags, checked. */
    flags: CheckedSettingsLayer;
    /** `--json`: machine-readable output on stdout. */
    json: boolean;
    /** `--peer-times`: per-peer times in what is printed. */
    peerTimes: boolean;
  };

/** The exit codes, as `--help` states them. */
export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  runtime failure (wg failed, a peer needed repair, an interface is missing)
  2  usage or configuration error (nothing was changed)
  3  another wg-reinstate was purging an interface (it was skipped)`;

/** The main help text, listing the subcommands. */
export function mainHelp(commands: Readonly<Record<string, CommandSpec>>): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, spec]) =>
    `  wg-reinstate ${name.padEnd(width)} [options]   ${spec.summary}`
  );
  return `wg-reinstate: make WireGuard forget the endpoints of peers whose session is over

Usage:
${lines.join("\n")}
  wg-reinstate --version
  wg-reinstate COMMAND --help

${EXIT_CODES_HELP}`;
}

/** The help text of one subcommand: only the options it uses. */
export function commandHelp(name: string, spec: CommandSpec): string {
  return `Usage: wg-reinstate ${name} [options]

${spec.description}

Options:
${optionsHelp(spec.options)}`;
}

/** Loads every subcommand's spec, by name, in the table's order. */
export async function loadSpecs<S extends CommandSpec>(
  commands: Readonly<Record<string, SpecLoader<S>>>,
): Promise<Record<string, S>> {
  const names = Object.keys(commands);
  const specs = await Promise.all(names.map((name) => commands[name]()));
  return Object.fromEntries(names.map((name, i) => [name, specs[i]]));
}

/**
 * The one way a problem with the command line is worded:
 * `what: problem (see wg-reinstate COMMAND --help)`.
 *
 * @param command the subcommand, or null before one is known
 * @param what the flag (`--name`), or an argument as typed (see {@link typed})
 */
export function usageMessage(command: string | null, what: string, problem: string): string {
  return `${what}: ${problem} (see wg-reinstate ${command === null ? "" : `${command} `}--help)`;
}

/**
 * What the user typed, fit for a message: as it is when it is printable
 * ASCII, else quoted with its control characters escaped, so that it can
 * never forge a line of its own.
 */
export function typed(text: string): string {
  if (/^[\x21-\x7e]+$/.test(text)) return text;
  return JSON.stringify(text).replace(
    /[\x7f-\x9f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * Parses argv (without the program name). Only the named subcommand's module
 * is loaded (all of them for `--help`).
 *
 * @param commands the subcommands, by name
 * @throws {ConfigError} for an unknown command, an option the command does not
 *   use, or a malformed value; worded by {@link usageMessage}
 */
export async function parseCommandLine<S extends CommandSpec>(
  argv: readonly string[],
  commands: Readonly<Record<string, SpecLoader<S>>>,
): Promise<CommandLine<S>> {
  const [first, ...rest] = argv;
  if (first === undefined) throw new ConfigError("no command given (see wg-reinstate --help)");
  if (first === "--version" || first === "-V") return { kind: "version" };
  if (first === "--help" || first === "-h" || first === "help") {
    return { kind: "help", text: mainHelp(await loadSpecs(commands)) };
  }
  if (!Object.hasOwn(commands, first)) throw unknownCommand(first, Object.keys(commands));
  const spec = await commands[first]();
  const given = readOptions(first, spec, rest);
  if (given === "help") return { kind: "help", text: commandHelp(first, spec) };
  // Flag errors come before any file is read.
  const flags = flagsLayer(first, given);
  return {
    kind: "command",
    command: first,
    spec,
    configPath: (given.get("config") as string | undefined) ?? null,
    uciPath: (given.get("uci") as string | undefined) ?? null,
    flags,
    json: given.get("json") === true,
    peerTimes: given.get("peer-times") === true,
  };
}

function unknownCommand(first: string, names: readonly string[]): ConfigError {
  if (first.startsWith("-")) {
    return new ConfigError(
      usageMessage(
        null,
        typed(first.split("=")[0]),
        "unknown option; options go after the command",
      ),
    );
  }
  const list = `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
  return new ConfigError(
    usageMessage(null, typed(first), `unknown command; the commands are ${list}`),
  );
}

/** The options as given: a switch is true, a repeatable option a list. */
type Given = Map<OptionName, string | true | string[]>;

/** Every option, for `parseArgs` to split argv with: it knows which take a value. */
const TOKEN_OPTIONS: NonNullable<ParseArgsConfig["options"]> = Object.fromEntries(
  Object.entries(OPTIONS).map(([name, spec]) => [
    name,
    {
      type: spec.value === undefined ? "boolean" : "string",
      ...(spec.short === undefined ? {} : { short: spec.short }),
    },
  ]),
);

type Token = NonNullable<ReturnType<typeof parseArgs>["tokens"]>[number];
type OptionToken = Extract<Token, { kind: "option" }>;

/**
 * Reads the options of `command` from `args`, or "help" when `--help` is
 * among them. `parseArgs` only splits argv here (not strict): whether an
 * option exists, is the command's, and has its value is judged below, in
 * the one wording.
 */
function readOptions(command: string, spec: CommandSpec, args: readonly string[]): Given | "help" {
  const { tokens } = parseArgs({
    args: [...args],
    options: TOKEN_OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  if (tokens.some((t) => t.kind === "option" && t.name === "help" && t.value === undefined)) {
    return "help";
  }
  const given: Given = new Map();
  for (const token of tokens) {
    if (token.kind === "option-terminator") continue;
    if (token.kind === "positional") {
      throw new ConfigError(usageMessage(command, typed(token.value), "unexpected argument"));
    }
    const name = checkedOption(command, spec, token);
    const value = token.value ?? true;
    if (OPTIONS[name].multiple) {
      given.set(name, [...(given.get(name) as string[] | undefined) ?? [], value as string]);
    } else {
      given.set(name, value);
    }
  }
  return given;
}

/** The option of `token`, once it is known, used by `command`, and given a value if it takes one. */
function checkedOption(command: string, spec: CommandSpec, token: OptionToken): OptionName {
  const problem = (what: string, text: string) =>
    new ConfigError(usageMessage(command, what, text));
  if (!Object.hasOwn(OPTIONS, token.name)) throw problem(typed(token.rawName), "unknown option");
  const name = token.name as OptionName;
  const flag = `--${name}`;
  if (!spec.options.includes(name) && name !== "help") {
    throw problem(flag, `${command} does not use this option`);
  }
  if (OPTIONS[name].value === undefined) {
    if (token.value !== undefined) throw problem(flag, "takes no value");
    return name;
  }
  // `-i --json`: parseArgs took the next option as the value.
  const taken = token.value !== undefined && !token.inlineValue &&
    token.value.startsWith("-") && !/^-\d/.test(token.value);
  if (token.value === undefined || token.value === "" || taken) {
    throw problem(flag, "needs a value");
  }
  if (hasControlCharacter(token.value)) throw problem(flag, "must not contain control characters");
  return name;
}

/** The settings the options give, checked, as a layer whose every message names the flag. */
function flagsLayer(command: string, given: Given): CheckedSettingsLayer {
  const values: Record<string, unknown> = {};
  for (const [name, value] of given) {
    const field = OPTIONS[name].field;
    if (field === undefined) continue;
    const bounds = boundsOf(name);
    values[field] = bounds === undefined ? value : toNumber(command, name, value as string, bounds);
  }
  const interfaces = values.interfaces as string[] | undefined;
  if (interfaces?.includes("all")) {
    if (interfaces.length > 1) {
      throw new ConfigError(
        usageMessage(
          command,
          flagOf("interfaces"),
          '"all" cannot be combined with interface names',
        ),
      );
    }
    values.interfaces = "all";
  }
  const flag = (key: string) => `--${optionFor(key) ?? key}`;
  return checkSettingsLayer({
    source: "flags",
    values,
    fieldName: flag,
    describe: (key, problem) => usageMessage(command, flag(key), problem),
  });
}

/**
 * A numeric value; its range is the schema's to check, which then names the
 * setting's own bounds. One too large for a double counts as the largest.
 */
function toNumber(command: string, name: OptionName, value: string, bounds: NumberBounds): number {
  if (!(bounds.whole ? /^-?\d+$/ : /^-?\d+(\.\d+)?$/).test(value)) {
    throw new ConfigError(
      usageMessage(command, `--${name}`, `must be ${bounds.whole ? "a whole number" : "a number"}`),
    );
  }
  const number = Number(value);
  return Number.isFinite(number) ? number : Math.sign(number) * Number.MAX_VALUE;
}
