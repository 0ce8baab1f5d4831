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
// What libuci's skip_whitespace skips inside a line (isspace without \n).
const BLANK = new Set([" ", "\t", "\v", "\f", "\r"]);
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

/** djb2 over the type's bytes, as libuci hashes it for anonymous names. */
function djb2(text: string): number {
  let hash = 5381;
  for (const byte of new TextEncoder().encode(text)) hash = ((hash * 33) + byte) >>> 0;
  return hash;
}

/** The name libuci gives the `count`-th section when it is anonymous. */
export function anonymousName(count: number, type: string): string {
  return `cfg${count.toString(16).padStart(2, "0")}${
    (djb2(type) & 0xffff).toString(16).padStart(4, "0")
  }`;
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

  peek(offset = 0): string {
    return this.text[this.pos + offset] ?? "";
  }

  advance(): string {
    const c = this.text[this.pos++];
    if (c === "\n") this.line++;
    return c;
  }

  skipBlanks(): void {
    while (BLANK.has(this.peek())) this.advance();
  }

  /** Skips a backslash-newline (or backslash-CR-LF) pair; true when it did. */
  skipContinuation(): boolean {
    if (this.peek() !== "\\") return false;
    if (this.peek(1) === "\n") {
      this.advance();
      this.advance();
      return true;
    }
    if (this.peek(1) === "\r" && this.peek(2) === "\n") {
      this.advance();
      this.advance();
      this.advance();
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
    const c = this.peek();
    if (this.atEnd || c === "\n" || c === "#" || c === ";") return null;
    let token = "";
    while (!this.atEnd) {
      const ch = this.peek();
      if (this.skipContinuation()) continue;
      if (ch === "'") {
        token += this.singleQuoted();
      } else if (ch === '"') {
        token += this.doubleQuoted();
      } else if (BLANK.has(ch) || ch === "\n" || ch === "#" || ch === ";") {
        break;
      } else if (ch === "\\") {
        this.advance();
        if (!this.atEnd) token += this.advance();
      } else {
        token += this.advance();
      }
    }
    return token;
  }

  /**
   * A quoted string up to its closing `quote`. `next` reads one character
   * of it (or nothing, for a line continuation), so each quote keeps its own
   * escaping rules: none inside '...', backslash and continuations inside "...".
   */
  private quoted(quote: "'" | '"', next: () => string): string {
    const opened = this.line;
    this.advance();
    let out = "";
    while (this.peek() !== quote) {
      if (this.atEnd) {
        this.fail(`EOF with unterminated ${quote} (expected a closing ${quote})`, opened);
      }
      out += next();
    }
    this.advance();
    return out;
  }

  private singleQuoted(): string {
    return this.quoted("'", () => this.advance());
  }

  private doubleQuoted(): string {
    return this.quoted('"', () => {
      if (this.skipContinuation()) return "";
      if (this.peek() === "\\") {
        this.advance();
        if (this.atEnd) return "";
      }
      return this.advance();
    });
  }

  /** After a command's last argument: only blanks, a comment, `;` or the line's end may follow. */
  endOfCommand(what: string): void {
    this.skipBlanks();
    const c = this.peek();
    if (this.atEnd || c === "\n" || c === "#" || c === ";") return;
    this.fail(`too many arguments (expected the end of the line after ${what})`);
  }

  /** Skips to the start of the next command: past `;`, a comment, or the newline. */
  nextCommand(): void {
    this.skipBlanks();
    if (this.peek() === ";") {
      this.advance();
      return;
    }
    if (this.peek() === "#") { while (!this.atEnd && this.peek() !== "\n") this.advance(); }
    if (this.peek() === "\n") this.advance();
  }

  /** Reads the command word: the raw text up to a space or tab, as libuci's strtok does. */
  commandWord(): string {
    let word = "";
    while (!this.atEnd && this.peek() !== " " && this.peek() !== "\t" && this.peek() !== "\n") {
      word += this.advance();
    }
    return word;
  }
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
    while (BLANK.has(scan.peek()) || scan.peek() === "\n" || scan.peek() === ";") scan.advance();
    if (scan.atEnd) break;
    const line = scan.line;
    if (scan.peek() === "#") {
      scan.nextCommand();
      continue;
    }
    const word = scan.commandWord();
    const keyword = KEYWORDS.get(word);
    if (keyword === undefined) {
      scan.fail(
        `invalid command ${JSON.stringify(word)} (expected package, config, option or list)`,
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
