/**
 * A reader for UCI config files (/etc/config/*) that behaves like OpenWrt's
 * libuci in its default strict mode, so that the service sees exactly what
 * `uci show` shows. No `uci` binary is needed.
 *
 * What it follows from libuci:
 * - the keywords `package`/`p`, `config`/`c`, `option`/`o`, `list`/`l`; a
 *   `package` line is checked and then ignored (the file names the package);
 * - tokens made of pieces: '…' is literal (backslash and newlines kept),
 *   "…" and unquoted text drop a backslash and keep the next character, and
 *   adjacent pieces join into one token;
 * - an unquoted `#` ends the token and the line, even straight after a word;
 * - a backslash before a newline joins the next line; a quote left open
 *   continues on the next line and keeps the newline;
 * - section and option names are `[A-Za-z0-9_]`; section types may use
 *   printable ASCII;
 * - a section that repeats a name (and type) is reopened and merged; a
 *   repeated name with another type is an error;
 * - `option` replaces an option or a list of that name in place; `list`
 *   appends, turning an existing option into the list's first item;
 * - `option x ''` is dropped (it neither sets nor clears); `list x ''` adds
 *   an empty item;
 * - anonymous sections are named `cfg` + 2 hex digits of the section count
 *   + 4 hex digits of the type's djb2 hash, as libuci names them.
 *
 * Where libuci silently drops text (an unquoted `;` inside a word cuts the
 * rest of the line) this reader treats `;` as a command separator and
 * reports what is left as an error instead. A NUL byte is an error.
 *
 * Any syntax error rejects the whole file, naming `file:line` and what was
 * expected.
 *
 * @module
 */
import { ParseError } from "../common/errors.ts";

/** A UCI option: a single value or a list. */
export type UciValue = { kind: "option"; value: string } | { kind: "list"; values: string[] };

/** One `config` section. */
export interface UciSection {
  /** The section type, e.g. `interface` or `wireguard_wg0`. */
  type: string;
  /** The section name; for anonymous sections the name libuci gives them. */
  name: string;
  /** True when the file gave no name. */
  anonymous: boolean;
  /** Line of the first `config` line of this section. */
  line: number;
  /** Options in file order. */
  options: Map<string, UciValue>;
}

/** A parsed UCI file. */
export interface UciPackage {
  /** Sections in file order. */
  sections: UciSection[];
}

const NAME = /^[A-Za-z0-9_]+$/;
const PACKAGE_NAME = /^[A-Za-z0-9_-]+$/;
const TYPE = /^[\x21-\x7e]+$/;
// A Map: a command word such as `constructor` must not find Object's own.
const KEYWORDS = new Map<string, "package" | "config" | "option" | "list">([
  ["package", "package"],
  ["p", "package"],
  ["config", "config"],
  ["c", "config"],
  ["option", "option"],
  ["o", "option"],
  ["list", "list"],
  ["l", "list"],
]);

// Character codes: the scanner reads codes and cuts tokens out of the text
// as slices, never a string built one character at a time (V8 keeps such a
// string as a chain of one node per character: gigabytes for a 50 MB value).
const END = -1;
const TAB = 9;
const NL = 10;
const CR = 13;
const SPACE = 32;
const DQUOTE = 34;
const HASH = 35;
const SQUOTE = 39;
const SEMICOLON = 59;
const BACKSLASH = 92;

/** What libuci's skip_whitespace skips inside a line (isspace without \n): space, \t, \v, \f, \r. */
function isBlank(c: number): boolean {
  return c === SPACE || (c >= TAB && c <= CR && c !== NL);
}

/** Where an argument ends: a blank, the line's end, a comment or `;`. */
function endsArgument(c: number): boolean {
  return c === END || c === NL || c === HASH || c === SEMICOLON || isBlank(c);
}

/**
 * The runs of characters the scanner takes in one step (sticky, so matched
 * where the scanner is; one class, so nothing to backtrack): in an unquoted
 * argument, all but blanks, newlines, quotes, backslashes, `#` and `;`;
 * inside "...", all but `"` and backslashes.
 */
const PLAIN_RUN = /[^'"\\ \t\v\f\r\n#;]*/y;
const DOUBLE_QUOTED_RUN = /[^"\\]*/y;

/** Where the run that `pattern` (sticky, `*`) matches from `from` ends. */
function runEnd(pattern: RegExp, text: string, from: number): number {
  pattern.lastIndex = from;
  pattern.test(text);
  return pattern.lastIndex;
}

/** A word longer than this is cut short in the message that quotes it. */
const QUOTED_WORD_MAX = 32;

/** djb2 over the type's bytes, as libuci hashes it for anonymous names. */
function djb2(text: string): number {
  let hash = 5381;
  // Printable ASCII (every type) is its own UTF-8: no encoder per section.
  if (/^[ -~]*$/.test(text)) {
    for (let i = 0; i < text.length; i++) hash = ((hash * 33) + text.charCodeAt(i)) >>> 0;
    return hash;
  }
  for (const byte of new TextEncoder().encode(text)) hash = ((hash * 33) + byte) >>> 0;
  return hash;
}

/** The name libuci gives the `count`-th section when it is anonymous. */
export function anonymousName(count: number, type: string): string {
  return `cfg${count.toString(16).padStart(2, "0")}${
    (djb2(type) & 0xffff).toString(16).padStart(4, "0")
  }`;
}

/**
 * A token made of slices of the text: most are one slice, kept as it is;
 * more pieces are joined in groups, so that a token of millions of escapes
 * costs an array of pieces, not a chain of string nodes, and no piece is
 * copied more than twice.
 */
class Token {
  #first = "";
  #pieces: string[] | null = null;
  #groups: string[] | null = null;

  add(piece: string): void {
    if (piece === "") return;
    if (this.#pieces === null) {
      if (this.#first === "") {
        this.#first = piece;
        return;
      }
      this.#pieces = [this.#first];
    }
    this.#pieces.push(piece);
    if (this.#pieces.length === 4096) {
      (this.#groups ??= []).push(this.#pieces.join(""));
      this.#pieces = [];
    }
  }

  text(): string {
    if (this.#pieces === null) return this.#first;
    return (this.#groups?.join("") ?? "") + this.#pieces.join("");
  }
}

class Scanner {
  pos = 0;
  line = 1;

  constructor(readonly text: string, readonly source: string) {}

  fail(reason: string, line = this.line): never {
    throw new ParseError({ source: this.source, line }, reason);
  }

  get atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  /** The code of the character `offset` ahead, or {@link END}. */
  code(offset = 0): number {
    const at = this.pos + offset;
    return at < this.text.length ? this.text.charCodeAt(at) : END;
  }

  /** Moves past one character. */
  advance(): void {
    if (this.text.charCodeAt(this.pos++) === NL) this.line++;
  }

  /** Moves to `end`, counting the newlines passed (searched in a slice: never past `end`). */
  private moveTo(end: number): void {
    const passed = this.text.slice(this.pos, end);
    for (let at = passed.indexOf("\n"); at >= 0; at = passed.indexOf("\n", at + 1)) this.line++;
    this.pos = end;
  }

  skipBlanks(): void {
    while (isBlank(this.code())) this.pos++;
  }

  /** Skips a backslash-newline (or backslash-CR-LF) pair; true when it did. */
  skipContinuation(): boolean {
    if (this.code() !== BACKSLASH) return false;
    if (this.code(1) === NL) {
      this.pos += 2;
      this.line++;
      return true;
    }
    if (this.code(1) === CR && this.code(2) === NL) {
      this.pos += 3;
      this.line++;
      return true;
    }
    return false;
  }

  /**
   * Reads one argument; null when the command has no more (end of line,
   * a comment or `;`).
   */
  argument(): string | null {
    this.skipBlanks();
    const c = this.code();
    if (c === END || c === NL || c === HASH || c === SEMICOLON) return null;
    const token = new Token();
    let start = this.pos;
    for (;;) {
      const ch = this.code();
      if (ch === SQUOTE || ch === DQUOTE) {
        token.add(this.text.slice(start, this.pos));
        if (ch === SQUOTE) this.singleQuoted(token);
        else this.doubleQuoted(token);
        start = this.pos;
      } else if (ch === BACKSLASH) {
        token.add(this.text.slice(start, this.pos));
        start = this.escaped();
      } else if (endsArgument(ch)) {
        break;
      } else {
        this.pos = runEnd(PLAIN_RUN, this.text, this.pos);
      }
    }
    token.add(this.text.slice(start, this.pos));
    return token.text();
  }

  /**
   * At a backslash: skips a line continuation, or drops the backslash and
   * moves past the character after it, which is kept whatever it is.
   *
   * @returns where the text to keep starts again
   */
  private escaped(): number {
    if (this.skipContinuation()) return this.pos;
    this.pos++;
    const start = this.pos;
    if (!this.atEnd) this.advance();
    return start;
  }

  /** '...': everything up to the next ', literally. */
  private singleQuoted(token: Token): void {
    const opened = this.line;
    const close = this.text.indexOf("'", this.pos + 1);
    if (close < 0) this.fail("EOF with unterminated ' (expected a closing ')", opened);
    const start = this.pos + 1;
    this.pos = start;
    this.moveTo(close);
    token.add(this.text.slice(start, close));
    this.pos++;
  }

  /** "...": a backslash keeps the next character; backslash-newline joins lines. */
  private doubleQuoted(token: Token): void {
    const opened = this.line;
    this.pos++;
    let start = this.pos;
    for (;;) {
      const ch = this.code();
      // A backslash at the very end leaves the quote open, which this says.
      if (ch === END) this.fail('EOF with unterminated " (expected a closing ")', opened);
      if (ch === DQUOTE) break;
      if (ch === BACKSLASH) {
        token.add(this.text.slice(start, this.pos));
        start = this.escaped();
      } else {
        this.moveTo(runEnd(DOUBLE_QUOTED_RUN, this.text, this.pos));
      }
    }
    token.add(this.text.slice(start, this.pos));
    this.pos++;
  }

  /** After a command's last argument: only blanks, a comment, `;` or the line's end may follow. */
  endOfCommand(what: string): void {
    this.skipBlanks();
    const c = this.code();
    if (c === END || c === NL || c === HASH || c === SEMICOLON) return;
    this.fail(`too many arguments (expected the end of the line after ${what})`);
  }

  /** Skips to the start of the next command: past `;`, a comment, or the newline. */
  nextCommand(): void {
    this.skipBlanks();
    if (this.code() === SEMICOLON) {
      this.pos++;
      return;
    }
    if (this.code() === HASH) {
      const eol = this.text.indexOf("\n", this.pos);
      this.pos = eol < 0 ? this.text.length : eol;
    }
    if (this.code() === NL) this.advance();
  }

  /** Reads the command word: the raw text up to a space or tab, as libuci's strtok does. */
  commandWord(): string {
    const start = this.pos;
    for (let c = this.code(); c !== END && c !== SPACE && c !== TAB && c !== NL; c = this.code()) {
      this.pos++;
    }
    return this.text.slice(start, this.pos);
  }
}

/** A word or value from a file as a message quotes it: JSON, and cut short when long. */
export function quoteWord(word: string): string {
  return word.length <= QUOTED_WORD_MAX
    ? JSON.stringify(word)
    : `${JSON.stringify(word.slice(0, QUOTED_WORD_MAX))}… (${word.length} characters)`;
}

/**
 * Parses a UCI file.
 *
 * @param text the file's contents
 * @param source the file name, for error messages
 * @throws {ParseError} naming file:line and what was expected; nothing is returned then
 */
export function parseUci(text: string, source: string): UciPackage {
  const nul = text.indexOf("\0");
  if (nul >= 0) {
    throw new ParseError(
      { source, line: text.slice(0, nul).split("\n").length },
      "NUL byte in file",
    );
  }
  const scan: Scanner = new Scanner(text, source);
  const sections: UciSection[] = [];
  const byName = new Map<string, UciSection>();
  let current: UciSection | null = null;
  let sectionCount = 0;

  while (!scan.atEnd) {
    // Blank lines, leading white space and `;` between commands.
    for (let c = scan.code(); isBlank(c) || c === NL || c === SEMICOLON; c = scan.code()) {
      scan.advance();
    }
    if (scan.atEnd) break;
    const line = scan.line;
    if (scan.code() === HASH) {
      scan.nextCommand();
      continue;
    }
    const word = scan.commandWord();
    const keyword = KEYWORDS.get(word);
    if (keyword === undefined) {
      scan.fail(
        `invalid command ${quoteWord(word)} (expected package, config, option or list)`,
      );
    }
    if (keyword === "package") {
      const name = scan.argument();
      if (name === null || name === "") {
        scan.fail("insufficient arguments (expected a package name)");
      }
      if (!PACKAGE_NAME.test(name)) {
        scan.fail("invalid character in name field (expected [A-Za-z0-9_-])");
      }
      scan.endOfCommand("the package name");
    } else if (keyword === "config") {
      const type = scan.argument();
      if (type === null || type === "") {
        scan.fail("insufficient arguments (expected a section type)");
      }
      if (!TYPE.test(type)) scan.fail("invalid character in type field (expected printable ASCII)");
      const name = scan.argument() ?? "";
      if (name !== "" && !NAME.test(name)) {
        scan.fail("invalid character in name field (expected [A-Za-z0-9_])");
      }
      scan.endOfCommand("the section name");
      const existing = name === "" ? undefined : byName.get(name);
      if (existing !== undefined) {
        if (existing.type !== type) {
          scan.fail(
            `section of different type overwrites prior section with same name (expected type ${existing.type})`,
          );
        }
        current = existing;
      } else {
        sectionCount++;
        current = {
          type,
          name: name === "" ? anonymousName(sectionCount, type) : name,
          anonymous: name === "",
          line,
          options: new Map(),
        };
        sections.push(current);
        if (name !== "") byName.set(name, current);
      }
    } else {
      if (current === null) {
        scan.fail(
          "option/list command found before the first section (expected a config line first)",
        );
      }
      const name = scan.argument();
      if (name === null || name === "") {
        scan.fail(`insufficient arguments (expected an ${keyword} name)`);
      }
      if (!NAME.test(name)) scan.fail("invalid character in name field (expected [A-Za-z0-9_])");
      const value = scan.argument() ?? "";
      scan.endOfCommand("the value");
      const old = current.options.get(name);
      if (keyword === "option") {
        // libuci's import never clears: an empty value leaves the option as it was.
        if (value !== "") current.options.set(name, { kind: "option", value });
      } else if (old?.kind === "list") {
        old.values.push(value);
      } else {
        current.options.set(name, { kind: "list", values: old ? [old.value, value] : [value] });
      }
    }
    scan.nextCommand();
  }
  return { sections };
}

/** The value of a single option, or undefined; a list is returned as its last item. */
export function optionValue(section: UciSection, name: string): string | undefined {
  const v = section.options.get(name);
  if (v === undefined) return undefined;
  return v.kind === "option" ? v.value : v.values.at(-1);
}

/** The values of a list option; a single option counts as a one-item list. */
export function listValues(section: UciSection, name: string): string[] {
  const v = section.options.get(name);
  if (v === undefined) return [];
  return v.kind === "list" ? [...v.values] : [v.value];
}

/** Quotes a value so that {@link parseUci} reads it back unchanged. */
export function quoteUci(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Writes a package in UCI syntax, which {@link parseUci} reads back unchanged (tests use it). */
export function formatUci(pkg: UciPackage): string {
  const out: string[] = [];
  for (const section of pkg.sections) {
    const type = quoteUci(section.type);
    out.push(section.anonymous ? `config ${type}` : `config ${type} ${quoteUci(section.name)}`);
    for (const [name, value] of section.options) {
      if (value.kind === "option") out.push(`\toption ${name} ${quoteUci(value.value)}`);
      else for (const item of value.values) out.push(`\tlist ${name} ${quoteUci(item)}`);
    }
    out.push("");
  }
  return out.join("\n");
}
