import assert from "node:assert/strict";
import fc from "fast-check";
import { ParseError } from "../../src/common/errors.ts";
import {
  anonymousName,
  formatUci,
  parseUci,
  type UciPackage,
  type UciValue,
} from "../../src/config/uci.ts";

/** The parse result as plain data: [type, name, anonymous, options]. */
function shape(pkg: UciPackage) {
  return pkg.sections.map((s) => [s.type, s.name, s.anonymous, Object.fromEntries(s.options)]);
}

const opt = (value: string): UciValue => ({ kind: "option", value });
const list = (...values: string[]): UciValue => ({ kind: "list", values });

function syntaxError(text: string): ParseError {
  try {
    parseUci(text, "test.conf");
  } catch (error) {
    assert.ok(error instanceof ParseError, String(error));
    return error;
  }
  assert.fail(`accepted: ${JSON.stringify(text)}`);
}

// One file per rule, each with the exact expected sections and options.
const CORPUS: [string, string, unknown][] = [
  [
    "package, config, option, list and short keywords",
    "package 'network'\nconfig interface 'lan'\n\toption proto 'static'\n\tlist dns '1.1.1.1'\n\tlist dns '9.9.9.9'\nc x y\no a b\nl c d\n",
    [
      ["interface", "lan", false, { proto: opt("static"), dns: list("1.1.1.1", "9.9.9.9") }],
      ["x", "y", false, { a: opt("b"), c: list("d") }],
    ],
  ],
  [
    "anonymous sections are named as libuci names them",
    "config foo\n\toption a 1\nconfig bar 'named'\nconfig foo\n",
    [
      ["foo", "cfg017389", true, { a: opt("1") }],
      ["bar", "named", false, {}],
      ["foo", "cfg037389", true, {}],
    ],
  ],
  [
    "a repeated section name reopens and merges the section",
    "config t 's'\n\toption a 1\n\toption b 2\nconfig t 's'\n\toption a 3\n\toption c 4\n",
    [["t", "s", false, { a: opt("3"), b: opt("2"), c: opt("4") }]],
  ],
  [
    "single quotes are literal, double quotes and bare words take escapes",
    `config t s\n\toption a 'x\\ny "q"'\n\toption b "p\\"q\\\\r\\n"\n\toption c a\\ b\\#c\n`,
    [["t", "s", false, { a: opt('x\\ny "q"'), b: opt('p"q\\rn'), c: opt("a b#c") }]],
  ],
  [
    "adjacent quoted pieces join into one token",
    `config t s\n\toption a 'a'"b"c\n\toption b 'it'\\''s'\n`,
    [["t", "s", false, { a: opt("abc"), b: opt("it's") }]],
  ],
  [
    "# starts a comment, also straight after an unquoted value",
    `# head\nconfig t s # trailing\n\toption a b#c\n\toption q "h"#c\n\toption r '#kept'\n  # indented\n`,
    [["t", "s", false, { a: opt("b"), q: opt("h"), r: opt("#kept") }]],
  ],
  [
    "multi-line quoted values keep the newline; backslash-newline joins lines",
    `config t s\n\toption a "l1\nl2"\n\toption b 'x\\\ny'\n\toption c "ab\\\ncd"\n\toption d ab\\\ncd\n`,
    [["t", "s", false, { a: opt("l1\nl2"), b: opt("x\\\ny"), c: opt("abcd"), d: opt("abcd") }]],
  ],
  [
    "option and list of one name replace each other as libuci does",
    "config t s\n\toption a x\n\tlist a y\n\tlist a w\n\tlist b 1\n\toption b 2\n",
    [["t", "s", false, { a: list("x", "y", "w"), b: opt("2") }]],
  ],
  [
    "empty option values are dropped, empty list items kept",
    "config t s\n\toption a 1\n\toption a ''\n\toption b\n\toption c #x\n\tlist l ''\n",
    [["t", "s", false, { a: opt("1"), l: list("") }]],
  ],
  [
    "CRLF line ends and ; between commands",
    "config t s\r\n\toption a b\r\nconfig u v ; option c d\r\n",
    [["t", "s", false, { a: opt("b") }], ["u", "v", false, { c: opt("d") }]],
  ],
];

for (const [rule, text, expected] of CORPUS) {
  Deno.test(`parseUci reads ${rule}`, () => {
    assert.deepStrictEqual(shape(parseUci(text, "test.conf")), expected);
  });
}

Deno.test("parseUci rejects invalid names, naming file:line and what was expected", () => {
  const cases: [string, number, RegExp][] = [
    ["config t 'bad-name'\n", 1, /invalid character in name field \(expected \[A-Za-z0-9_\]\)/],
    ["config t s\n\toption 'a.b' c\n", 2, /invalid character in name field/],
    ["config 'a b'\n", 1, /invalid character in type field/],
    ["\n\noption a b\n", 3, /before the first section/],
    [
      "config t s\n\toption a b c\n",
      2,
      /too many arguments \(expected the end of the line after the value\)/,
    ],
    ["config\n", 1, /insufficient arguments \(expected a section type\)/],
    [
      "config t s\nfrobnicate x\n",
      2,
      /invalid command "frobnicate" \(expected package, config, option or list\)/,
    ],
    ["config t s\n\toption a 'open\n\n", 2, /EOF with unterminated ' \(expected a closing '\)/],
    [
      "config t s\nconfig u s\n",
      2,
      /section of different type overwrites prior section with same name/,
    ],
    ["package 'a b'\n", 1, /invalid character in name field/],
    ["config t s\n\toption a b\0\n", 2, /NUL byte/],
    // Words that name an Object's own property are no keywords either.
    ["config t s\nconstructor x y\n", 2, /invalid command "constructor"/],
    ["config t s\ntoString x y\n", 2, /invalid command "toString"/],
    ["config t s\n__proto__ x y\n", 2, /invalid command "__proto__"/],
  ];
  for (const [text, line, pattern] of cases) {
    const error = syntaxError(text);
    assert.strictEqual(error.position.line, line, JSON.stringify(text));
    assert.match(error.message, pattern, JSON.stringify(text));
    assert.match(error.message, new RegExp(`^test\\.conf:${line}: `));
  }
});

Deno.test("parseUci reads values of thousands of pieces and lines, as short ones", async (t) => {
  // More pieces than the scanner joins at once (4096), and line numbers counted past them.
  const after = "\nconfig t s2\n\toption 'bad.name' 1\n";
  const cases: [string, string, string, number][] = [
    ["10,000 escapes, unquoted", "\\x".repeat(10_000), "x".repeat(10_000), 4],
    ["10,000 quoted pieces side by side", `'a'"b"`.repeat(5_000), "ab".repeat(5_000), 4],
    ["9,000 escaped quotes inside double quotes", `"${'\\"'.repeat(9_000)}"`, '"'.repeat(9_000), 4],
    [
      "a single-quoted value of 5,000 lines",
      `'${"x\n".repeat(5_000)}'`,
      "x\n".repeat(5_000),
      5_004,
    ],
    [
      "a double-quoted value of 5,000 lines",
      `"${"y\n".repeat(5_000)}"`,
      "y\n".repeat(5_000),
      5_004,
    ],
    [
      "6,000 continuations inside double quotes",
      `"${"a\\\n".repeat(6_000)}"`,
      "a".repeat(6_000),
      6_004,
    ],
    ["6,000 continuations, unquoted", "b\\\n".repeat(6_000) + "b", "b".repeat(6_001), 6_004],
  ];
  for (const [name, written, value, badLine] of cases) {
    await t.step(name, () => {
      const text = `config t s\n\toption a ${written}\n`;
      assert.deepStrictEqual(shape(parseUci(text, "test.conf")), [["t", "s", false, {
        a: opt(value),
      }]]);
      assert.strictEqual(syntaxError(text + after.slice(1)).position.line, badLine);
    });
  }
});

Deno.test("parseUci quotes at most 32 characters of a word it does not know", () => {
  const error = syntaxError(`config t s\n${"x".repeat(100_000)} y\n`);
  assert.strictEqual(
    error.message,
    `test.conf:2: invalid command "${"x".repeat(32)}"… (100000 characters) ` +
      "(expected package, config, option or list)",
  );
});

Deno.test("anonymousName follows libuci's cfg + count + djb2 hash", () => {
  assert.strictEqual(anonymousName(1, "foo"), "cfg017389");
  assert.strictEqual(anonymousName(3, "foo"), "cfg037389");
  assert.strictEqual(anonymousName(300, "foo"), "cfg12c7389");
});

const nameArb = fc.stringMatching(/^[A-Za-z0-9_]{1,12}$/);
const typeArb = fc.stringMatching(/^[A-Za-z0-9_][\x21-\x7e]{0,11}$/);
const textArb = fc.string({ unit: "binary", maxLength: 20 }).filter((s) => !s.includes("\0"));
const valueArb: fc.Arbitrary<UciValue> = fc.oneof(
  textArb.filter((s) => s !== "").map((value): UciValue => ({ kind: "option", value })),
  fc.array(textArb, { minLength: 1, maxLength: 4 }).map((values): UciValue => ({
    kind: "list",
    values,
  })),
);
const sectionArb = fc.record({
  type: typeArb,
  named: fc.option(nameArb, { nil: null }),
  options: fc.uniqueArray(fc.tuple(nameArb, valueArb), { selector: ([n]) => n, maxLength: 5 }),
});

Deno.test("parseUci reads back any config that formatUci writes", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(sectionArb, { selector: (s) => s.named ?? Symbol(), maxLength: 6 }),
      (specs) => {
        const pkg: UciPackage = {
          sections: specs.map((s, i) => ({
            type: s.type,
            name: s.named ?? anonymousName(i + 1, s.type),
            anonymous: s.named === null,
            line: 0,
            options: new Map(s.options),
          })),
        };
        const parsed = parseUci(formatUci(pkg), "gen.conf");
        assert.deepStrictEqual(shape(parsed), shape(pkg));
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("parseUci throws only ParseError on arbitrary input", () => {
  const alphabet = fc.constantFrom(
    "config",
    "option",
    "list",
    " ",
    "\t",
    "\n",
    "'",
    '"',
    "\\",
    "#",
    ";",
    "a",
    "_",
    "-",
    "\r",
    "x y",
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: "binary", maxLength: 200 }),
        fc.array(alphabet, { maxLength: 40 }).map((a) => a.join("")),
      ),
      (text) => {
        try {
          parseUci(text, "fuzz.conf");
        } catch (error) {
          assert.ok(error instanceof ParseError, String(error));
          assert.match(error.message, /^fuzz\.conf:\d+: /);
        }
      },
    ),
    { numRuns: 10_000 },
  );
});
