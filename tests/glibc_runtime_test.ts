/**
 * scripts/glibc_runtime.sh for aarch64: Debian's arm64 glibc, fetched with
 * apt, with exactly the loader and libraries Deno needs, all AArch64 ELF.
 * (x86_64 is assembled and run for real in tests/musl_root_test.ts.)
 */
import assert from "node:assert/strict";
import { sh } from "./support/lab.ts";

const SCRIPT = new URL("../scripts/glibc_runtime.sh", import.meta.url).pathname;

Deno.test("glibc_runtime.sh assembles the aarch64 runtime from Debian's arm64 glibc", async () => {
  const out = await Deno.makeTempDir({ prefix: "wr-rt-arm64-" });
  try {
    const r = await sh(["bash", SCRIPT, "aarch64", out], { allowFail: true });
    assert.strictEqual(r.code, 0, r.stderr);
    const files = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    assert.deepStrictEqual(files, [
      "ld-linux-aarch64.so.1",
      "libc.so.6",
      "libdl.so.2",
      "libgcc_s.so.1",
      "libm.so.6",
      "libpthread.so.0",
      "librt.so.1",
    ]);
    for (const f of files) {
      assert.match((await sh(["readelf", "-h", `${out}/${f}`])).stdout, /Machine:\s+AArch64/, f);
    }
    assert.match(
      (await sh(["bash", SCRIPT, "mips", out], { allowFail: true })).stderr,
      /unknown architecture mips/,
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
