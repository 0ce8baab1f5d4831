/**
 * The docs and the package metadata agree with the program: the README's
 * options table says exactly which flags each command's `--help` prints, its
 * exit code table matches, its links lead to files that exist, and the
 * license is stated where packagers look for it.
 */
import assert from "node:assert/strict";
import { commandHelp, EXIT_CODES_HELP, loadSpecs, mainHelp } from "../../src/cli/args.ts";
import { COMMANDS } from "../../src/main.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const README = Deno.readTextFileSync(`${ROOT}README.md`);

const SPECS = await loadSpecs(COMMANDS);

function helpTexts(): string[] {
  return [mainHelp(SPECS), ...Object.entries(SPECS).map(([n, s]) => commandHelp(n, s))];
}

/**
 * The long flags an option list in `--help` declares: lines that start with
 * `  -x, --flag` or `      --flag` (continuation lines are indented further).
 */
function helpFlags(help: string): Set<string> {
  return new Set(
    [...help.matchAll(/^ {2}(?:-[A-Za-z], | {4})(--[a-z][a-z-]*)/gm)].map((m) => m[1]),
  );
}

/** Flag → the commands the README's options table says accept it. */
function readmeOptionTable(): Map<string, Set<string>> {
  const rows = README.split("\n").filter((line) => /^\| `-/.test(line));
  const table = new Map<string, Set<string>>();
  for (const row of rows) {
    const [flagCell, commandsCell] = row.split("|").slice(1, 3).map((c) => c.trim());
    const flags = [...flagCell.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]);
    assert.strictEqual(flags.length, 1, `one long flag per row: ${row}`);
    assert.ok(!table.has(flags[0]), `${flags[0]} has one row`);
    table.set(flags[0], new Set(commandsCell.split(",").map((c) => c.trim())));
  }
  return table;
}

/** Per command, the sorted flags: from the README's table, or from `--help`. */
function byCommand(pairs: Iterable<[string, string]>): Record<string, string[]> {
  const out: Record<string, string[]> = Object.fromEntries(
    Object.keys(COMMANDS).map((name) => [name, []]),
  );
  for (const [command, flag] of pairs) (out[command] ??= []).push(flag);
  for (const flags of Object.values(out)) flags.sort();
  return out;
}

Deno.test("README lists every option that --help prints", () => {
  const options = new Set(
    helpTexts().flatMap((t) => [...t.matchAll(/--[a-z][a-z-]+/g)].map((m) => m[0])),
  );
  assert.ok(options.size >= 20, [...options].join(" "));
  const missing = [...options].filter((o) =>
    !README.includes("`" + o) && !README.includes(", " + o)
  );
  assert.deepStrictEqual(missing, []);
});

Deno.test("README options table names, per command, exactly the flags its --help prints", () => {
  const table = readmeOptionTable();
  assert.ok(table.size >= 20, [...table.keys()].join(" "));
  const documented = byCommand(
    [...table].flatMap(([flag, commands]) => [...commands].map((c): [string, string] => [c, flag])),
  );
  const helped = byCommand(
    Object.entries(SPECS).flatMap(([name, spec]) =>
      [...helpFlags(commandHelp(name, spec))].map((flag): [string, string] => [name, flag])
    ),
  );
  assert.ok(helped.run.length >= 20, helped.run.join(" "));
  assert.deepStrictEqual(documented, helped);
});

Deno.test("README lists every exit code that --help prints, in its table", () => {
  const codes = [...EXIT_CODES_HELP.matchAll(/^ {2}(\d) {2}/gm)].map((m) => m[1]);
  assert.deepStrictEqual(codes, ["0", "1", "2", "3"]);
  for (const code of codes) assert.match(README, new RegExp(`^\\| ${code} +\\| \\S`, "m"), code);
});

Deno.test("README stays at most 300 lines", () => {
  const lines = README.split("\n").length - (README.endsWith("\n") ? 1 : 0);
  assert.ok(lines <= 300, `${lines} lines`);
});

Deno.test("README links to CONTRIBUTING.md and each docs/*.md, and every such link exists", () => {
  const links = [...README.matchAll(/\]\(((?:docs\/[^)#\s]+|CONTRIBUTING)\.md)(?:#[^)]*)?\)/g)]
    .map((m) => m[1]);
  const docs = [...Deno.readDirSync(`${ROOT}docs`)]
    .filter((e) => e.isFile && e.name.endsWith(".md"))
    .map((e) => `docs/${e.name}`);
  assert.deepStrictEqual([...new Set(links)].sort(), ["CONTRIBUTING.md", ...docs].sort());
  for (const link of links) assert.ok(Deno.statSync(`${ROOT}${link}`).isFile, link);
});

Deno.test("the MIT license is in LICENSE and in the OpenWrt package", () => {
  assert.match(Deno.readTextFileSync(`${ROOT}LICENSE`), /^MIT License\n/);
  const makefile = Deno.readTextFileSync(`${ROOT}openwrt/Makefile`);
  assert.match(makefile, /^PKG_LICENSE:=MIT$/m);
  assert.match(makefile, /^PKG_LICENSE_FILES:=LICENSE$/m);
  assert.match(makefile, /^PKG_MAINTAINER:=\S.+<\S+@\S+>$/m);
});
