import assert from "node:assert/strict";
import { safeDir } from "../../src/common/safe_path.ts";
import { KeyDir, removeOrphanedKeyDirs } from "../../src/wg/key_dir.ts";

Deno.test("KeyDir writes 0600 files in a 0700 directory and removes them", async () => {
  const parent = await Deno.makeTempDir({ prefix: "wr-secret-" });
  const oldUmask = Deno.umask(0o000);
  try {
    const dir = await KeyDir.create(`${parent}/keys`);
    const file = await dir.write("c2VjcmV0");
    assert.strictEqual((await Deno.stat(`${parent}/keys`)).mode! & 0o777, 0o700);
    assert.strictEqual((await Deno.stat(dir.path)).mode! & 0o777, 0o700);
    assert.strictEqual((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.strictEqual(await Deno.readTextFile(file), "c2VjcmV0\n");
    assert.strictEqual(await dir.write("c2VjcmV0"), file, "the same secret reuses its file");
    assert.ok(!file.includes("c2VjcmV0"), "the file name says nothing about the secret");
    await dir.remove();
    await assert.rejects(Deno.stat(dir.path), Deno.errors.NotFound);
    await dir.remove();
  } finally {
    Deno.umask(oldUmask);
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("removeOrphanedKeyDirs removes dead owners' directories and keeps live ones", async () => {
  const parent = await Deno.makeTempDir({ prefix: "wr-secret-" });
  try {
    const live = await KeyDir.create(parent);
    await live.write("bGl2ZQ==");
    // A directory whose process died: its owner file is there but unlocked.
    await Deno.mkdir(`${parent}/keys-dead`);
    await Deno.writeTextFile(`${parent}/keys-dead/owner`, "");
    await Deno.writeTextFile(`${parent}/keys-dead/psk-0`, "ZGVhZA==\n");
    await Deno.mkdir(`${parent}/unrelated`);
    await removeOrphanedKeyDirs(await safeDir(parent, "key-dir"));
    const left = [...Deno.readDirSync(parent)].map((e) => e.name).sort();
    assert.deepStrictEqual(left, [live.path.split("/").at(-1)!, "unrelated"].sort());
    await live.remove();
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});
