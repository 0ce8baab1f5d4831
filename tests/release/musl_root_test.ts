/**
 * The glibc runtime on a musl system: a root with only musl and a static
 * busybox (no glibc anywhere else), the runtime from scripts/release/glibc_runtime.sh
 * and the launcher from openwrt/. The Deno runtime of the same version
 * stands in for the compiled binary (which needs a denort this machine
 * cannot download): started by the launcher, it runs the bundle, and a musl
 * program it starts as a child still runs with an untouched environment.
 */
import assert from "node:assert/strict";
import { sh } from "../harness/sh.ts";
import { bundleBytes } from "../../scripts/release/bundle.ts";
import { RUNTIME_FLAGS } from "../../scripts/release/runtime_flags.ts";
import { VERSION } from "../../src/common/version.ts";
import { installRelease, makeMuslRoot, mountRoot } from "../support/release_root.ts";

const ROOT_DIR = new URL("../../", import.meta.url).pathname;
const ENV = { PATH: "/usr/bin:/bin", HOME: "/tmp", DENO_DIR: "/tmp/deno", NO_COLOR: "1" };

async function walk(dir: string, base = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const rel = `${base}/${e.name}`;
    if (e.isDirectory && rel !== "/proc" && rel !== "/dev") {
      out.push(...await walk(`${dir}/${e.name}`, rel));
    } else out.push(rel);
  }
  return out;
}

Deno.test("the glibc runtime runs Deno and the bundle in a musl-only root; musl children still run", async () => {
  const work = await Deno.makeTempDir({ prefix: "wr-musl-" });
  const root = `${work}/root`;
  const lib = `${root}/usr/lib/wg-reinstate`;
  let unmount: (() => Promise<void>) | null = null;
  try {
    await makeMuslRoot(
      root,
      "x86_64",
      "/bin/busybox",
      await Deno.realPath("/lib/x86_64-linux-musl/libc.so"),
    );
    await sh([
      "musl-gcc",
      "-O2",
      "-o",
      `${root}/usr/bin/musl-helper`,
      `${ROOT_DIR}tests/fixtures/musl_helper.c`,
    ]);
    assert.match(
      (await sh(["readelf", "-l", `${root}/usr/bin/musl-helper`])).stdout,
      /interpreter: \/lib\/ld-musl-x86_64\.so\.1/,
    );

    await installRelease(root, "x86_64", Deno.execPath());
    await Deno.writeTextFile(
      `${root}/tmp/child.js`,
      'const o = await new Deno.Command("/usr/bin/musl-helper").output();\n' +
        "console.log(new TextDecoder().decode(o.stdout).trim(), o.code);\n",
    );

    // No glibc anywhere but the private directory.
    const files = await walk(root);
    const glibc = files.filter((f) => /\/(libc\.so\.6|ld-linux[^/]*)$/.test(f));
    assert.deepStrictEqual(glibc.sort(), [
      "/usr/lib/wg-reinstate/ld-linux-x86-64.so.2",
      "/usr/lib/wg-reinstate/libc.so.6",
    ]);
    assert.ok(!files.some((f) => f.startsWith("/lib64")));

    unmount = await mountRoot(root);
    // A clean environment: nothing from this process reaches the root.
    const chroot = async (...args: string[]) => {
      const out = await new Deno.Command("/usr/sbin/chroot", {
        args: [root, "/usr/bin/wg-reinstate", ...args],
        env: ENV,
        clearEnv: true,
        stdin: "null",
      }).output();
      const text = new TextDecoder();
      assert.strictEqual(out.code, 0, text.decode(out.stderr));
      return { stdout: text.decode(out.stdout) };
    };

    // The launcher starts the glibc runtime through its private loader.
    assert.match(
      (await chroot("--version")).stdout,
      new RegExp(`^deno ${Deno.version.deno.replaceAll(".", "\\.")} `),
    );
    const bundle = ["run", ...RUNTIME_FLAGS, "/usr/lib/wg-reinstate/bundle/main.js"];
    assert.strictEqual((await chroot(...bundle, "--version")).stdout, `wg-reinstate ${VERSION}\n`);
    assert.match(
      (await chroot(...bundle, "status", "--help")).stdout,
      /^Usage: wg-reinstate status/,
    );
    // A musl child of the glibc program runs, and no glibc path leaked into it.
    const child = await chroot("run", "--allow-run=/usr/bin/musl-helper", "/tmp/child.js");
    assert.strictEqual(child.stdout, "musl child ok; LD_LIBRARY_PATH=(unset) 0\n");

    // procd sets LD_PRELOAD to a musl library for logged instances: the
    // launcher must keep it, and musl's libc with it, out of the glibc process.
    // OpenWrt's musl is /lib/libc.so (the loader is a link to it).
    await Deno.symlink("ld-musl-x86_64.so.1", `${root}/lib/libc.so`);
    await sh([
      "musl-gcc",
      "-shared",
      "-fPIC",
      "-O2",
      "-o",
      `${root}/lib/libsetlbf.so`,
      `${ROOT_DIR}tests/fixtures/setlbf.c`,
    ]);
    await Deno.writeTextFile(
      `${root}/tmp/maps.js`,
      'const maps = Deno.readTextFileSync("/proc/self/maps");\n' +
        "const musl = [...new Set(maps.split('\\n').map((l) => l.split(/\\s+/)[5] ?? '')" +
        ".filter((p) => /musl|libsetlbf/.test(p)))];\n" +
        'const o = await new Deno.Command("/usr/bin/musl-helper").output();\n' +
        "console.log(JSON.stringify({ musl, child: new TextDecoder().decode(o.stdout).trim(), " +
        'preload: Deno.env.get("LD_PRELOAD") ?? null }));\n',
    );
    const preloaded = await new Deno.Command("/usr/sbin/chroot", {
      args: [root, "/usr/bin/wg-reinstate", "run", "--allow-all", "/tmp/maps.js"],
      env: { ...ENV, LD_PRELOAD: "/lib/libsetlbf.so" },
      clearEnv: true,
      stdin: "null",
    }).output();
    const decoded = new TextDecoder().decode(preloaded.stdout);
    assert.strictEqual(preloaded.code, 0, new TextDecoder().decode(preloaded.stderr));
    assert.deepStrictEqual(JSON.parse(decoded), {
      musl: [],
      child: "musl child ok; LD_LIBRARY_PATH=(unset)",
      preload: null,
    });
    // Without the launcher's care, the same variable maps both into the process.
    const bare = await new Deno.Command("/usr/sbin/chroot", {
      args: [
        root,
        "/usr/lib/wg-reinstate/ld-linux-x86-64.so.2",
        "--library-path",
        "/usr/lib/wg-reinstate",
        "/usr/lib/wg-reinstate/wg-reinstate",
        "run",
        "--allow-all",
        "/tmp/maps.js",
      ],
      env: { ...ENV, LD_PRELOAD: "/lib/libsetlbf.so" },
      clearEnv: true,
      stdin: "null",
    }).output();
    const bareMaps = new TextDecoder().decode(bare.stdout).trim();
    const bareErr = new TextDecoder().decode(bare.stderr).trim().split("\n")[0];
    console.log(`without the launcher: exit ${bare.code}, ${bareMaps || bareErr}`);
    assert.match(bareMaps + bareErr, /libsetlbf\.so|libc\.so|ld-musl/);

    const size = async (p: string) => (await Deno.stat(p)).size;
    const runtimeBytes = (await Promise.all(
      [...Deno.readDirSync(lib)].filter((e) => /\.so/.test(e.name)).map((e) =>
        size(`${lib}/${e.name}`)
      ),
    )).reduce((a, b) => a + b, 0);
    console.log(
      `sizes: glibc runtime ${runtimeBytes} bytes, bundle ${await bundleBytes(
        `${lib}/bundle`,
      )} bytes, ` +
        `Deno runtime ${await size(`${lib}/wg-reinstate`)} bytes`,
    );
  } finally {
    await unmount?.();
    await Deno.remove(work, { recursive: true });
  }
});
