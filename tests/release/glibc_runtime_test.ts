/**
 * scripts/release/glibc_runtime.sh for aarch64: Debian's arm64 glibc, fetched with
 * apt, with exactly the loader and libraries Deno needs, all AArch64 ELF,
 * and the host's apt setup left as it was. (x86_64 is assembled and run for
 * real in tests/release/musl_root_test.ts.)
 */
import assert from "node:assert/strict";
import { sh } from "../harness/sh.ts";

const SCRIPT = new URL("../../scripts/release/glibc_runtime.sh", import.meta.url).pathname;

Deno.test("glibc_runtime.sh assembles the aarch64 runtime from Debian's arm64 glibc", async () => {
  const out = await Deno.makeTempDir({ prefix: "wr-rt-arm64-" });
  // What the host's apt knows: its architectures and its package lists.
  const aptState = async () =>
    (await sh([
      "sh",
      "-c",
      "dpkg --print-foreign-architectures; ls -l --time-style=+%s /var/lib/apt/lists",
    ]))
      .stdout;
  try {
    const before = await aptState();
    const r = await sh(["bash", SCRIPT, "aarch64", out], { allowFail: true });
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual(await aptState(), before, "the host's apt setup is unchanged");
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
