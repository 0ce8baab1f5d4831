/**
 * `deno task build` where no denort can be had (as on this machine): one
 * clear message saying what to provide, exit 1, and no file written.
 */
import assert from "node:assert/strict";
import { sh } from "../harness/sh.ts";

const BUILD = new URL("../../scripts/release/build.ts", import.meta.url).pathname;

async function build(env: Record<string, string>, ...args: string[]) {
  const out = await Deno.makeTempDir({ prefix: "wr-build-" });
  try {
    const clean = Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("DENORT_BIN")),
    );
    const r = await sh([Deno.execPath(), "run", "--allow-all", BUILD, "--out", out, ...args], {
      allowFail: true,
      env: { ...clean, ...env, NO_COLOR: "1" },
    });
    return { ...r, files: [...Deno.readDirSync(out)].map((e) => e.name) };
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}

Deno.test("build without any denort stops with what to provide and writes nothing", async () => {
  // Unless this machine can download denort, there is none: no DENORT_BIN_*, nothing seeded.
  const seeded = `${
    JSON.parse((await sh([Deno.execPath(), "info", "--json"])).stdout).denoDir
  }/dl/release/v${Deno.version.deno}`;
  const r = await build({});
  if (r.code === 0) {
    console.log(`denort was available here (${seeded}); the missing-denort path was not exercised`);
    assert.deepStrictEqual(r.files.filter((f) => f.startsWith("wg-reinstate-")).length, 2);
    return;
  }
  assert.strictEqual(r.code, 1);
  const lines = r.stderr.trim().split("\n").filter((l) => l.startsWith("build: "));
  assert.strictEqual(lines.length, 1, r.stderr);
  assert.match(lines[0], /^build: no denort for x86_64-unknown-linux-gnu \(deno compile: .*\)\. /);
  assert.match(lines[0], /Provide DENORT_BIN_X86_64=\/path\/to\/denort/);
  assert.ok(lines[0].includes(`${seeded}/denort-x86_64-unknown-linux-gnu.zip`), lines[0]);
  assert.match(lines[0], /Nothing was written\.$/);
  assert.deepStrictEqual(r.files, [], "no partial or stand-in artifact");
});

Deno.test("build names a DENORT_BIN_* that does not exist, and refuses a target-blind DENORT_BIN", async () => {
  const missing = await build({ DENORT_BIN_AARCH64: "/nonexistent/denort" }, "--arch", "aarch64");
  assert.strictEqual(missing.code, 1);
  assert.match(missing.stderr, /build: DENORT_BIN_AARCH64: \/nonexistent\/denort: no such file/);
  assert.deepStrictEqual(missing.files, []);
  const blind = await build({ DENORT_BIN: "/usr/bin/true" }, "--arch", "aarch64");
  assert.strictEqual(blind.code, 1);
  assert.match(blind.stderr, /build: DENORT_BIN ignores the target; set DENORT_BIN_AARCH64/);
  assert.deepStrictEqual(blind.files, []);
});
