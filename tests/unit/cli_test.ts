/**
 * The CLI as a process, unprivileged and without WireGuard: its version,
 * one-line errors with the right exit code, a missing `wg`, and a `wg` that
 * hangs (a FAKE wrapper). The same failures against real wireguard-go are in
 * tests/lab/cli_errors_test.ts.
 */
import assert from "node:assert/strict";
import { runCli } from "../../scripts/lab/cli.ts";
import { VERSION } from "../../src/common/version.ts";
import { withWrapper } from "../support/wrappers.ts";

function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => /\[ERR\]|^wg-reinstate: /.test(l));
}

Deno.test("cli prints its version from deno.json", async () => {
  const r = await runCli(["--version"]);
  assert.strictEqual(r.code, 0);
  assert.strictEqual(r.stdout, `wg-reinstate ${VERSION}\n`);
});

Deno.test("cli exits 2 with one line for bad flags", async () => {
  for (
    const args of [["run", "--stale-after", "60"], ["run", "--nope"], ["status", "-i", "a b"], []]
  ) {
    const r = await runCli(args);
    assert.strictEqual(r.code, 2, args.join(" "));
    assert.strictEqual(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^wg-reinstate: /);
  }
});

Deno.test("cli names a missing wg binary", async () => {
  const r = await runCli(["run", "--wg", "/nonexistent/wg"]);
  assert.strictEqual(r.code, 1);
  assert.deepStrictEqual(errorLines(r.stderr).length, 1);
  assert.match(r.stderr, /wg binary not found at "\/nonexistent\/wg": install wireguard-tools/);
});

Deno.test("cli gives up on a hanging wg after --wg-timeout (FAKE: hanging wrapper)", async () => {
  const r = await withWrapper(
    `#!/bin/sh\n# FAKE wg for fault injection: hangs instead of answering.\nexec sleep 30\n`,
    (wg) => runCli(["status", "--wg", wg, "--wg-timeout", "1"]),
  );
  assert.strictEqual(r.code, 1);
  assert.strictEqual(errorLines(r.stderr).length, 1, r.stderr);
  assert.match(r.stderr, /wg show all did not finish within 1 s \(--wg-timeout\)/);
});
