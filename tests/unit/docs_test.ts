/**
 * The docs and the package metadata agree with the program: the README's
 * options table says exactly which flags each command's `--help` prints, its
 * naming rule for JSON keys and UCI options holds for the settings registry,
 * docs/openwrt.md's UCI table lists the options the daemon reads with their
 * defaults, the exit code table matches, the links lead to files that exist,
 * and the license is stated where packagers look for it.
 */
import assert from "node:assert/strict";
import { commandHelp, EXIT_CODES_HELP, loadSpecs, mainHelp } from "../../src/cli/args.ts";
import { SETTING_NAMES, settingSpec } from "../../src/config/settings_registry.ts";
import { UCI_DATATYPES, UCI_DEFAULTS, UCI_MAIN_OPTIONS } from "../../src/config/uci_settings.ts";
import { COMMANDS } from "../../src/main.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const README = Deno.readTextFileSync(`${ROOT}README.md`);
const OPENWRT = Deno.readTextFileSync(`${ROOT}docs/openwrt.md`);

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

Deno.test("README's naming rule for JSON keys and UCI options holds but where it says", async (t) => {
  // "in a JSON file its key is the flag in camelCase, in UCI in snake_case. The exceptions: ..."
  const start = README.indexOf("## Configure");
  const rule = README.slice(start, README.indexOf("```json", start)).replace(/\s+/g, " ");
  const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const snake = (flag: string) => flag.replaceAll("-", "_");
  for (const name of SETTING_NAMES) {
    const { flag, uci } = settingSpec(name);
    await t.step(`--${flag}`, () => {
      if (name !== camel(flag)) assert.ok(rule.includes(`\`--${flag}\` is \`${name}\``), name);
      if (uci !== null && uci !== snake(flag)) assert.ok(rule.includes(`\`${uci}\``), uci);
    });
  }
  await t.step("the settings UCI has not", () => {
    const stated = [...rule.match(/UCI has no (.+?)\./)![1].matchAll(/`([a-z_]+)`/g)].map((m) =>
      m[1]
    );
    const none = SETTING_NAMES.filter((n) => settingSpec(n).uci === null);
    assert.deepStrictEqual(stated.sort(), none.map((n) => snake(settingSpec(n).flag)).sort());
  });
});

Deno.test("docs/openwrt.md's UCI table lists every option the daemon reads, with its default", () => {
  const rows = OPENWRT.slice(OPENWRT.indexOf("`config wg-reinstate 'main'`")).split("\n\n")[1]
    .split("\n").slice(2).map((row) => row.split("|").slice(1, 4).map((c) => c.trim()));
  const listed = rows.map(([cell]) => cell.match(/^`(list )?([a-z_]+)`$/)!);
  assert.deepStrictEqual(listed.map((m) => m[2]).sort(), [...UCI_MAIN_OPTIONS].sort());
  for (const [i, m] of listed.entries()) {
    assert.strictEqual(m[1] !== undefined, UCI_DATATYPES.get(m[2])!.startsWith("list("), m[2]);
    const stated = UCI_DEFAULTS.get(m[2]);
    if (stated !== undefined) assert.strictEqual(rows[i][2], `\`${stated}\``, m[2]);
  }
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
