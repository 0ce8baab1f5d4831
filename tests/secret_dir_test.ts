import assert from "node:assert/strict";
import { SecretDir } from "../src/purge/secret_dir.ts";

Deno.test("SecretDir writes 0600 files in a 0700 directory and removes them", async () => {
  const oldUmask = Deno.umask(0o000);
  try {
    const dir = await SecretDir.create();
    const file = await dir.write("c2VjcmV0");
    assert.strictEqual((await Deno.stat(dir.path)).mode! & 0o777, 0o700);
    assert.strictEqual((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.strictEqual(await Deno.readTextFile(file), "c2VjcmV0\n");
    assert.ok(!file.includes("c2VjcmV0"), "the file name says nothing about the secret");
    await dir.remove();
    await assert.rejects(Deno.stat(dir.path), Deno.errors.NotFound);
    await dir.remove();
  } finally {
    Deno.umask(oldUmask);
  }
});
