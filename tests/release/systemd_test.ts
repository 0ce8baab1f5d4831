import assert from "node:assert/strict";
import { sh } from "../../scripts/lab/sh.ts";

const UNIT = new URL("../../systemd/wg-reinstate.service", import.meta.url).pathname;

Deno.test("systemd unit passes systemd-analyze verify and is hardened", async () => {
  const text = await Deno.readTextFile(UNIT);
  for (
    const line of [
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "CapabilityBoundingSet=CAP_NET_ADMIN",
      "PrivateTmp=yes",
    ]
  ) {
    assert.ok(text.split("\n").includes(line), line);
  }
  assert.ok(!/^MemoryDenyWriteExecute=yes/m.test(text), "V8 needs W+X memory");
  const found = await sh(["sh", "-c", "command -v systemd-analyze"], { allowFail: true });
  if (found.code !== 0) {
    console.log("systemd-analyze is not installed: verify skipped");
    return;
  }
  // verify wants ExecStart to exist: point it at this Deno for the check.
  const dir = await Deno.makeTempDir({ prefix: "wr-unit-" });
  try {
    await Deno.writeTextFile(
      `${dir}/wg-reinstate.service`,
      text.replaceAll("/usr/local/bin/wg-reinstate", Deno.execPath()),
    );
    const r = await sh(["systemd-analyze", "verify", `${dir}/wg-reinstate.service`], {
      allowFail: true,
    });
    const problems = (r.stdout + r.stderr).split("\n").filter((l) =>
      l.includes("wg-reinstate.service")
    );
    assert.strictEqual(r.code, 0, r.stdout + r.stderr);
    assert.deepStrictEqual(problems, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
