import assert from "node:assert/strict";
import { sh } from "../harness/sh.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("project shell scripts pass shellcheck", async () => {
  const scripts = [
    ".ci/run",
    ...[
      "scripts",
      "scripts/vm",
      "scripts/bench",
      "scripts/release",
      "tests/harness",
      "tests/support",
    ]
      .flatMap((dir) =>
        [...Deno.readDirSync(`${ROOT}${dir}`)].filter((e) => e.name.endsWith(".sh")).map((e) =>
          `${dir}/${e.name}`
        )
      ),
  ];
  assert.ok(scripts.length >= 12, scripts.join(" "));
  const r = await sh(["shellcheck", "--severity=style", ...scripts.map((s) => ROOT + s)], {
    allowFail: true,
  });
  assert.strictEqual(r.code, 0, r.stdout + r.stderr);
});
