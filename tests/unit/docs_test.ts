/**
 * The docs and the package metadata agree with the program: every option and
 * exit code that `--help` prints is in the README, and the license is stated
 * where packagers look for it.
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

Deno.test("README lists every exit code that --help prints, in its table", () => {
  const codes = [...EXIT_CODES_HELP.matchAll(/^ {2}(\d) {2}/gm)].map((m) => m[1]);
  assert.deepStrictEqual(codes, ["0", "1", "2", "3"]);
  for (const code of codes) assert.match(README, new RegExp(`^\\| ${code} +\\| \\S`, "m"), code);
});

Deno.test("the MIT license is in LICENSE and in the OpenWrt package", () => {
  assert.match(Deno.readTextFileSync(`${ROOT}LICENSE`), /^MIT License\n/);
  const makefile = Deno.readTextFileSync(`${ROOT}openwrt/Makefile`);
  assert.match(makefile, /^PKG_LICENSE:=MIT$/m);
  assert.match(makefile, /^PKG_LICENSE_FILES:=LICENSE$/m);
  assert.match(makefile, /^PKG_MAINTAINER:=\S.+<\S+@\S+>$/m);
});
