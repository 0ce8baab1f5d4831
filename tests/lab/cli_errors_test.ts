/**
 * How the CLI fails: the exit code, one clear line on stderr, and no change
 * to the interface. Faults that real `wg` can produce are caused for real
 * (a missing binary, a missing interface, no privileges). Faults it cannot
 * produce use small shell wrappers around the real `wg`, each named FAKE.
 */
import assert from "node:assert/strict";
import { runCli } from "../harness/cli.ts";
import { WgLab } from "../harness/lab.ts";
import { withWrapper } from "../support/wrappers.ts";
import { configOf, peerByKey, statesByKey } from "../harness/scenario.ts";

function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => /\[ERR\]|^wg-reinstate: /.test(l));
}

/** A lab whose two clients (one with a PSK) have real handshakes. */
async function labWithClients(): Promise<WgLab> {
  const lab = await WgLab.start();
  for (const psk of [true, false]) {
    const c = await lab.addClient({ psk, extraAllowedIps: ["fd77::9/128"] });
    if (!(await lab.ping(c))) throw new Error("client could not handshake");
  }
  return lab;
}

Deno.test("cli logs JSON lines with --log-format json", async () => {
  // Its own status file: one shared with other runs could add a warning of its own.
  const dir = await Deno.makeTempDir({ prefix: "wr-json-" });
  const r = await runCli([
    "run",
    "-i",
    "wrnosuch1",
    "--log-format",
    "json",
    "--stale-after",
    "60",
    "--force-short-threshold",
    "--status-file",
    `${dir}/status.json`,
  ]).finally(() => Deno.remove(dir, { recursive: true }));
  assert.strictEqual(r.code, 1);
  const records = r.log.trim().split("\n").map((line) => JSON.parse(line));
  assert.deepStrictEqual(records.map((x) => [x.level, x.logger]), [
    ["warning", "wg-reinstate.config"],
    ["error", "wg-reinstate.main"],
  ]);
  assert.match(records[1].message, /^WireGuard interface wrnosuch1 does not exist/);
  assert.strictEqual(records[0].properties.staleAfter, 60);
});

Deno.test("cli names a missing interface", async () => {
  const r = await runCli(["status", "-i", "wrnosuch0"]);
  assert.strictEqual(r.code, 1);
  assert.strictEqual(errorLines(r.log).length, 1, r.log);
  assert.match(r.log, /WireGuard interface wrnosuch0 does not exist/);
});

Deno.test("cli names missing privileges (real wg run as nobody)", async () => {
  const lab = await labWithClients();
  try {
    const r = await withWrapper(
      `#!/bin/sh\n# Not a fake: the real wg, started without privileges.\nexec setpriv --reuid=65534 --regid=65534 --clear-groups @WG@ "$@"\n`,
      (wg) => runCli(["run", "-i", lab.iface, "--wg", wg], { clockShift: 300 }),
    );
    assert.strictEqual(r.code, 1);
    assert.strictEqual(errorLines(r.log).length, 1, r.log);
    assert.match(r.log, /permission denied; wg needs root or CAP_NET_ADMIN/);
  } finally {
    await lab.close();
  }
});

Deno.test("cli refuses a bad config file with exit 2 and changes nothing", async () => {
  const lab = await labWithClients();
  const config = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(
      config,
      JSON.stringify({ interfaces: [lab.iface], exclude: ["not-a-key"] }),
    );
    const before = statesByKey((await lab.dump()).peers);
    const r = await runCli(["run", "--config", config], { clockShift: 300 });
    assert.strictEqual(r.code, 2);
    assert.strictEqual(r.log.trim().split("\n").length, 1, r.log);
    assert.match(r.log, /\.json: exclude\.0: is not a WireGuard key/);
    assert.deepStrictEqual(statesByKey((await lab.dump()).peers), before);
  } finally {
    await lab.close();
    await Deno.remove(config);
  }
});

Deno.test("cli stops on unexpected wg output and changes nothing (FAKE: corrupting wrapper)", async () => {
  const lab = await labWithClients();
  try {
    const before = statesByKey((await lab.dump()).peers);
    const wrapper = `#!/bin/bash
# FAKE wg for fault injection: real wg output with the first peer's
# latest-handshake replaced by a word; any 'set' is recorded and refused.
if [ "$1" = set ]; then echo "$*" >> @DIR@/set-called; exit 1; fi
@WG@ "$@" | awk -F'\\t' 'BEGIN{OFS="\\t"} NR==2{$5="soon"} {print}'
`;
    const r = await withWrapper(wrapper, async (wg, dir) => {
      const out = await runCli(["run", "-i", lab.iface, "--wg", wg], { clockShift: 300 });
      await assert.rejects(Deno.stat(`${dir}/set-called`), Deno.errors.NotFound);
      return out;
    });
    assert.strictEqual(r.code, 1);
    assert.strictEqual(errorLines(r.log).length, 1, r.log);
    assert.match(
      r.log,
      /unexpected output from wg show \S+ dump: line 2, field latest-handshake: expected an unsigned integer/,
    );
    assert.deepStrictEqual(statesByKey((await lab.dump()).peers), before);
  } finally {
    await lab.close();
  }
});

Deno.test("cli repairs a peer that a failing wg set lost and exits 1 (FAKE: wrapper dropping one re-add)", async () => {
  const lab = await labWithClients();
  try {
    const before = (await lab.dump()).peers;
    const wrapper = `#!/bin/bash
# FAKE wg for fault injection: the first 'wg set' loses the re-add of its
# first peer (the remove still happens) and fails, as a wg cut short could.
if [ "$1" = set ] && [ ! -e @DIR@/dropped ]; then
  touch @DIR@/dropped
  out=("$1" "$2" "$3" "$4" "$5"); shift 5
  shift 2
  while [ $# -gt 0 ] && [ "$1" != peer ]; do shift 2; done
  @WG@ "\${out[@]}" "$@"
  echo "wg: simulated failure" >&2
  exit 1
fi
exec @WG@ "$@"
`;
    const r = await withWrapper(
      wrapper,
      (wg) => runCli(["run", "-i", lab.iface, "--wg", wg, "--json"], { clockShift: 300 }),
    );
    assert.strictEqual(r.code, 1, r.log);
    const report = JSON.parse(r.stdout);
    assert.strictEqual(report.ok, false);
    // Every peer of the failed call is re-added; the dropped one was missing.
    const repaired: { problems: string[]; restored: boolean }[] = report.interfaces[0].repaired;
    assert.deepStrictEqual(repaired.filter((x) => x.problems.includes("missing")).length, 1);
    assert.ok(repaired.every((x) => x.restored));
    assert.match(r.log, /did not come back as it was \(missing\); re-adding it/);
    const after = (await lab.dump()).peers;
    assert.strictEqual(after.length, before.length);
    for (const p of before) {
      const now = peerByKey(after, p.publicKey);
      assert.deepStrictEqual(configOf(now), configOf(p));
      assert.strictEqual(now.endpoint, null);
    }
  } finally {
    await lab.close();
  }
});
