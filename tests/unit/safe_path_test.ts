/**
 * The safe-path rule for what root writes, on its pure decision and on real
 * directories this user owns. The attacks by another user are in
 * tests/lab/hardening_test.ts (they need root and a second user).
 */
import assert from "node:assert/strict";
import { UnsafePathError } from "../../src/common/errors.ts";
import {
  kernelFileSystem,
  replaceFile,
  resolvePath,
  safeDir,
  stillSafe,
  unsafeReason,
} from "../../src/common/safe_path.ts";

const dirInfo = (uid: number, mode: number) => ({
  isDirectory: true,
  isSymlink: false,
  uid,
  mode,
  dev: 1,
  ino: 2,
});

Deno.test("unsafeReason refuses links, files, other owners and writable-by-others", () => {
  assert.strictEqual(unsafeReason(dirInfo(5, 0o40700), 5, true), null);
  assert.match(unsafeReason(dirInfo(6, 0o40700), 5, true)!, /owned by uid 6/);
  assert.match(unsafeReason(dirInfo(5, 0o40775), 5, true)!, /writable by group or others/);
  assert.match(unsafeReason({ ...dirInfo(5, 0o700), isSymlink: true }, 5, true)!, /symbolic link/);
  assert.match(unsafeReason({ ...dirInfo(5, 0o600), isDirectory: false }, 5, true)!, /not a dir/);
  // Above it: root or us, and writable by others only with the sticky bit (/tmp).
  assert.strictEqual(unsafeReason(dirInfo(0, 0o41777), 5, false), null);
  assert.match(unsafeReason(dirInfo(0, 0o40777), 5, false)!, /without the sticky bit/);
  assert.match(unsafeReason(dirInfo(7, 0o40755), 5, false)!, /neither root nor/);
});

Deno.test("safeDir makes a missing directory 0700, refuses a symlink and a shared directory", async () => {
  const base = await Deno.makeTempDir({ prefix: "wr-safe-" });
  try {
    const made = await safeDir(`${base}/run`, "key-dir");
    assert.strictEqual((await Deno.stat(made.path)).mode! & 0o777, 0o700);
    assert.ok(await stillSafe(made));
    await Deno.symlink(`${base}/run`, `${base}/link`);
    await assert.rejects(() => safeDir(`${base}/link`, "key-dir"), /link is a symbolic link/);
    await Deno.mkdir(`${base}/shared`, { mode: 0o777 });
    await Deno.chmod(`${base}/shared`, 0o777);
    await assert.rejects(
      () => safeDir(`${base}/shared`, "lock-dir"),
      (e: unknown) =>
        e instanceof UnsafePathError &&
        /^lock-dir: .*\/shared is writable by group or others; refusing to write there$/.test(
          e.message,
        ),
    );
    await assert.rejects(() => safeDir(`${base}/shared/x`, "status-file"), UnsafePathError);
    // Swapped for another directory: no longer the one checked.
    await Deno.rename(made.path, `${base}/old`);
    await Deno.mkdir(made.path, { mode: 0o700 });
    assert.strictEqual(await stillSafe(made), false);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("replaceFile replaces a planted symlink instead of writing through it", async () => {
  const base = await Deno.makeTempDir({ prefix: "wr-safe-" });
  try {
    const dir = await safeDir(`${base}/d`, "status-file");
    await Deno.writeTextFile(`${base}/victim`, "keep");
    await Deno.symlink(`${base}/victim`, `${dir.path}/status.json`);
    await replaceFile(dir, "status.json", "new\n");
    assert.strictEqual(await Deno.readTextFile(`${base}/victim`), "keep");
    assert.ok((await Deno.lstat(`${dir.path}/status.json`)).isFile);
    assert.strictEqual(await Deno.readTextFile(`${dir.path}/status.json`), "new\n");
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("kernelFileSystem names /proc and /sys and nothing that only starts like them", () => {
  const cases: [string, string | null][] = [
    ["/proc", "/proc"],
    ["/proc/sys/net/x.json", "/proc"],
    ["/sys/kernel/x.prom", "/sys"],
    ["/procfs/x", null],
    ["/system/x", null],
    ["/var/run/wg-reinstate/status.json", null],
  ];
  for (const [path, expected] of cases) assert.strictEqual(kernelFileSystem(path), expected, path);
});

Deno.test("resolvePath gives two names of one place one path, however much of it exists", async (t) => {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "wr-safe-" }));
  try {
    await Deno.mkdir(`${base}/real/sub`, { recursive: true });
    await Deno.symlink(`${base}/real`, `${base}/link`);
    await Deno.writeTextFile(`${base}/real/file`, "");
    await Deno.symlink(`${base}/real/file`, `${base}/file-link`);
    const cases: [string, string, string][] = [
      ["a linked parent directory", `${base}/link/sub/new.json`, `${base}/real/sub/new.json`],
      ["a missing tail under a link", `${base}/link/a/b/c.json`, `${base}/real/a/b/c.json`],
      ["..", `${base}/real/sub/../file`, `${base}/real/file`],
      ["a link to a file", `${base}/file-link`, `${base}/real/file`],
      ["nothing of it but /", "/wr-safe-none/x/y", "/wr-safe-none/x/y"],
    ];
    for (const [name, path, expected] of cases) {
      await t.step(name, async () => assert.strictEqual(await resolvePath(path), expected));
    }
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
