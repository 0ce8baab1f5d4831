/**
 * openwrt/Makefile, run by GNU make against a small stand-in for the SDK's
 * rules.mk and package.mk (tests/fixtures/openwrt_sdk_stub): the install
 * recipe, conffiles, stripping and the version.
 */
import assert from "node:assert/strict";
import { sh } from "../harness/sh.ts";
import { VERSION } from "../../src/common/version.ts";

const OPENWRT = new URL("../../openwrt/", import.meta.url).pathname;
const STUB = new URL("../fixtures/openwrt_sdk_stub", import.meta.url).pathname;

function make(target: string, vars: Record<string, string>) {
  return sh([
    "make",
    "--no-print-directory",
    "-C",
    OPENWRT,
    "-f",
    "Makefile",
    `TOPDIR=${STUB}`,
    `INCLUDE_DIR=${STUB}`,
    ...Object.entries(vars).map(([k, v]) => `${k}=${v}`),
    target,
  ], { allowFail: true });
}

Deno.test("openwrt Makefile installs the binary for the target, the init script and the config", async () => {
  const dist = await Deno.makeTempDir({ prefix: "wr-dist-" });
  const dest = await Deno.makeTempDir({ prefix: "wr-pkg-" });
  try {
    await Deno.writeTextFile(`${dist}/wg-reinstate-${VERSION}-aarch64`, "aarch64 binary\n");
    await Deno.writeTextFile(`${dist}/wg-reinstate-${VERSION}-x86_64`, "x86_64 binary\n");
    const r = await make("install", { ARCH: "aarch64", WG_REINSTATE_DIST: dist, DESTDIR: dest });
    assert.strictEqual(r.code, 0, r.stdout + r.stderr);
    const mode = async (p: string) => (await Deno.stat(`${dest}${p}`)).mode! & 0o777;
    assert.strictEqual(await Deno.readTextFile(`${dest}/usr/bin/wg-reinstate`), "aarch64 binary\n");
    assert.strictEqual(await mode("/usr/bin/wg-reinstate"), 0o755);
    assert.strictEqual(
      await Deno.readTextFile(`${dest}/etc/init.d/wg-reinstate`),
      await Deno.readTextFile(`${OPENWRT}files/wg-reinstate.init`),
    );
    assert.strictEqual(await mode("/etc/init.d/wg-reinstate"), 0o755);
    assert.strictEqual(
      await Deno.readTextFile(`${dest}/etc/config/wg-reinstate`),
      await Deno.readTextFile(`${OPENWRT}files/wg-reinstate.config`),
    );
    assert.strictEqual(await mode("/etc/config/wg-reinstate"), 0o600);
    const missing = await make("install", { ARCH: "mips", WG_REINSTATE_DIST: dist, DESTDIR: dest });
    assert.notStrictEqual(missing.code, 0, "no binary for an architecture Deno does not build");
  } finally {
    await Deno.remove(dist, { recursive: true });
    await Deno.remove(dest, { recursive: true });
  }
});

Deno.test("openwrt Makefile installs the glibc runtime and a launcher when given one", async () => {
  const dist = await Deno.makeTempDir({ prefix: "wr-dist-" });
  const runtime = await Deno.makeTempDir({ prefix: "wr-rt-" });
  const dest = await Deno.makeTempDir({ prefix: "wr-pkg-" });
  try {
    await Deno.writeTextFile(`${dist}/wg-reinstate-${VERSION}-x86_64`, "x86_64 binary\n");
    for (const lib of ["ld-linux-x86-64.so.2", "libc.so.6", "libgcc_s.so.1"]) {
      await Deno.writeTextFile(`${runtime}/${lib}`, `${lib}\n`);
    }
    const r = await make("install", {
      ARCH: "x86_64",
      WG_REINSTATE_DIST: dist,
      WG_REINSTATE_RUNTIME: runtime,
      DESTDIR: dest,
    });
    assert.strictEqual(r.code, 0, r.stdout + r.stderr);
    const mode = async (p: string) => (await Deno.stat(`${dest}${p}`)).mode! & 0o777;
    assert.strictEqual(
      await Deno.readTextFile(`${dest}/usr/bin/wg-reinstate`),
      await Deno.readTextFile(`${OPENWRT}files/wg-reinstate.launcher`),
    );
    assert.strictEqual(
      await Deno.readTextFile(`${dest}/usr/lib/wg-reinstate/wg-reinstate`),
      "x86_64 binary\n",
    );
    assert.strictEqual(await mode("/usr/lib/wg-reinstate/wg-reinstate"), 0o755);
    assert.strictEqual(await mode("/usr/lib/wg-reinstate/ld-linux-x86-64.so.2"), 0o755);
    assert.strictEqual(await mode("/usr/lib/wg-reinstate/libc.so.6"), 0o644);
    assert.strictEqual(await mode("/usr/lib/wg-reinstate/libgcc_s.so.1"), 0o644);
  } finally {
    for (const d of [dist, runtime, dest]) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("openwrt Makefile turns stripping off, declares its conffile and matches deno.json's version", async () => {
  assert.strictEqual(
    (await make("strip-setting", { ARCH: "x86_64" })).stdout.trim(),
    "STRIP=: RSTRIP=:",
  );
  assert.strictEqual(
    (await make("conffiles", { ARCH: "x86_64" })).stdout.trim(),
    "/etc/config/wg-reinstate",
  );
  const text = await Deno.readTextFile(`${OPENWRT}Makefile`);
  assert.strictEqual(/^PKG_VERSION:=(.*)$/m.exec(text)![1], VERSION);
  assert.match(VERSION, /^\d+\.\d+\.\d+$/);
  assert.match(/^PKG_RELEASE:=(.*)$/m.exec(text)![1], /^\d+$/);
});
