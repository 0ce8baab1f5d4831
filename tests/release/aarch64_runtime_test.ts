/**
 * The aarch64 release runtime, run for real under Debian's qemu-user-static:
 * an aarch64 root with only musl and a static busybox (no glibc but the
 * private runtime), the aarch64 glibc runtime from scripts/release/glibc_runtime.sh,
 * the launcher from openwrt/, and the aarch64 Deno of the same version from
 * the npm registry (@deno/linux-arm64-glibc) standing in for the compiled
 * binary. Checked through the launcher: `--version`, the bundle's
 * `--version` and `status --help`, and a child process.
 *
 * The kernel runs aarch64 programs through binfmt_misc. When no handler for
 * aarch64 is registered, this test registers qemu-user-static's (with the
 * F flag, so it works inside the chroot) and removes it afterwards: the only
 * host setting it changes, and only for its own run.
 */
import assert from "node:assert/strict";
import { sh } from "../harness/sh.ts";
import { RUNTIME_FLAGS } from "../../scripts/release/runtime_flags.ts";
import { VERSION } from "../../src/common/version.ts";
import { installRelease, makeMuslRoot, mountRoot } from "../support/release_root.ts";

const ROOT_DIR = new URL("../../", import.meta.url).pathname;
const ARM64_DENO = `${ROOT_DIR}.tools/deno-arm64/deno`;
const BINFMT = "/proc/sys/fs/binfmt_misc";
const HANDLER = `${BINFMT}/qemu-aarch64`;

/** Registers qemu's aarch64 handler when none is; returns whether it did. */
async function ensureBinfmt(): Promise<boolean> {
  if (!(await Deno.stat(`${BINFMT}/register`).then(() => true, () => false))) {
    await sh(["mount", "-t", "binfmt_misc", "binfmt_misc", BINFMT]);
  }
  if (await Deno.stat(HANDLER).then(() => true, () => false)) return false;
  const conf = (await Deno.readTextFile("/usr/lib/binfmt.d/qemu-aarch64.conf")).trim();
  // Debian's line ends in flags "OPF"; F opens the interpreter now, so a chroot needs no copy.
  assert.match(conf, /:F?[A-Z]*F[A-Z]*$/);
  await Deno.writeTextFile(`${BINFMT}/register`, conf);
  return true;
}

Deno.test("the aarch64 runtime runs Deno, the bundle and a child in an aarch64 musl-only root (qemu-user)", async () => {
  const work = await Deno.makeTempDir({ prefix: "wr-arm64-" });
  const root = `${work}/root`;
  const lib = `${root}/usr/lib/wg-reinstate`;
  let unmount: (() => Promise<void>) | null = null;
  const registered = await ensureBinfmt();
  try {
    const pkgs = `${work}/pkgs`;
    await sh([
      "bash",
      `${ROOT_DIR}scripts/release/arm64_packages.sh`,
      pkgs,
      "musl",
      "busybox-static",
    ]);
    await makeMuslRoot(
      root,
      "aarch64",
      `${pkgs}/bin/busybox`,
      `${pkgs}/lib/aarch64-linux-musl/libc.so`,
    );
    assert.match((await sh(["file", "-L", `${root}/bin/busybox`])).stdout, /ARM aarch64.*static/);

    await installRelease(root, "aarch64", ARM64_DENO);
    assert.match((await sh(["file", "-L", `${lib}/wg-reinstate`])).stdout, /ARM aarch64/);
    await Deno.writeTextFile(
      `${root}/tmp/child.js`,
      'const o = await new Deno.Command("/bin/busybox", { args: ["uname", "-m"] }).output();\n' +
        "console.log(`child: ${new TextDecoder().decode(o.stdout).trim()} ${o.code}`);\n",
    );
    // No glibc anywhere but the private directory.
    const glibc = (await sh(["find", root, "-name", "libc.so.6", "-o", "-name", "ld-linux*"]))
      .stdout.trim().split("\n").map((p) => p.slice(root.length)).sort();
    assert.deepStrictEqual(glibc, [
      "/usr/lib/wg-reinstate/ld-linux-aarch64.so.1",
      "/usr/lib/wg-reinstate/libc.so.6",
    ]);

    unmount = await mountRoot(root);
    const chroot = async (...args: string[]) => {
      const out = await new Deno.Command("/usr/sbin/chroot", {
        args: [root, "/usr/bin/wg-reinstate", ...args],
        env: { PATH: "/usr/bin:/bin", HOME: "/tmp", DENO_DIR: "/tmp/deno", NO_COLOR: "1" },
        clearEnv: true,
        stdin: "null",
      }).output();
      const text = new TextDecoder();
      assert.strictEqual(out.code, 0, text.decode(out.stderr));
      return text.decode(out.stdout);
    };
    const version = await chroot("--version");
    assert.match(version, new RegExp(`^deno ${Deno.version.deno.replaceAll(".", "\\.")} `));
    const bundle = ["run", ...RUNTIME_FLAGS, "/usr/lib/wg-reinstate/bundle/main.js"];
    const ours = await chroot(...bundle, "--version");
    assert.strictEqual(ours, `wg-reinstate ${VERSION}\n`);
    const help = await chroot(...bundle, "status", "--help");
    assert.match(help, /^Usage: wg-reinstate status/);
    const child = await chroot("run", "--allow-run=/bin/busybox", "/tmp/child.js");
    assert.strictEqual(child, "child: aarch64 0\n");
    console.log(
      `aarch64 under qemu-user: ${version.split("\n")[0]}; ${ours.trim()}; ` +
        `${help.split("\n")[0]}; ${child.trim()}`,
    );
  } finally {
    await unmount?.();
    if (registered) await Deno.writeTextFile(HANDLER, "-1");
    await Deno.remove(work, { recursive: true });
  }
});
