import assert from "node:assert/strict";
import { safeDir } from "../../src/common/safe_path.ts";
import { KeyDir, orphanedKeyDirs } from "../../src/wg/key_dir.ts";

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

Deno.test("orphanedKeyDirs hands over dead owners' directories, journal and keys, and keeps live ones", async () => {
  const parent = await Deno.makeTempDir({ prefix: "wr-secret-" });
  try {
    const live = await KeyDir.create(parent);
    await live.write("bGl2ZQ==");
    await live.appendJournal("live\n");
    // A directory whose process died: its owner file is there but unlocked.
    await Deno.mkdir(`${parent}/keys-dead`, { mode: 0o700 });
    await Deno.writeTextFile(`${parent}/keys-dead/owner`, "");
    await Deno.writeTextFile(`${parent}/keys-dead/psk-0`, "ZGVhZA==\n");
    await Deno.writeTextFile(`${parent}/keys-dead/journal`, "dead\n");
    // One cut short before its owner file was made: removed at once.
    await Deno.mkdir(`${parent}/keys-cut`, { mode: 0o700 });
    await Deno.mkdir(`${parent}/unrelated`);
    const found = await orphanedKeyDirs(await safeDir(parent, "key-dir"));
    assert.deepStrictEqual(found.map((d) => [d.name, d.journal]), [["keys-dead", "dead\n"]]);
    assert.strictEqual(await found[0].secret("psk-0"), "ZGVhZA==");
    assert.strictEqual(await found[0].secret("../owner"), null, "only psk-N names");
    // Held while in hand: a second look does not hand it over again.
    assert.deepStrictEqual(await orphanedKeyDirs(await safeDir(parent, "key-dir")), []);
    await found[0].remove();
    const left = [...Deno.readDirSync(parent)].map((e) => e.name).sort();
    assert.deepStrictEqual(left, [live.name, "unrelated"].sort());
    await live.remove();
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});
