import assert from "node:assert/strict";
import { sh } from "../../scripts/lab/sh.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("project shell scripts pass shellcheck", async () => {
  const scripts = [
    ".ci/run",
    ...[...Deno.readDirSync(`${ROOT}scripts`)].filter((e) => e.name.endsWith(".sh")).map((e) =>
      `scripts/${e.name}`
    ),
  ];
  assert.ok(scripts.length >= 6, scripts.join(" "));
  const r = await sh(["shellcheck", "--severity=style", ...scripts.map((s) => ROOT + s)], {
    allowFail: true,
  });
  assert.strictEqual(r.code, 0, r.stdout + r.stderr);
});
