import assert from "node:assert/strict";
import { sh } from "../harness/sh.ts";

const UNIT = new URL("../../systemd/wg-reinstate.service", import.meta.url).pathname;

Deno.test("systemd unit passes systemd-analyze verify and rates 2.0 or better in its security check", async () => {
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
    // systemd's own rating of the sandbox; tests/systemd/ proves the program works inside it.
    const rated = await sh(["systemd-analyze", "security", "--offline=yes", UNIT], {
      allowFail: true,
    });
    const level = Number(
      rated.stdout.match(/Overall exposure level for wg-reinstate\.service: ([\d.]+)/)?.[1],
    );
    console.log(`systemd-analyze security --offline=yes: ${level}`);
    assert.ok(level <= 2.0, rated.stdout.split("\n").filter((l) => l.startsWith("✗")).join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
