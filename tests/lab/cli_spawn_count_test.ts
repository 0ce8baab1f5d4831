/**
 * Counts the `wg` processes one `run` cycle starts, with 200 real stale
 * peers, through a PATH wrapper that logs each call and then execs the real
 * `wg`. The cycle must not spawn per peer: one dump, a first small `wg set`
 * that measures the cost per peer (FIRST_CALL_PEERS), one `wg set` for the
 * rest (it fits argv and TARGET_CALL_MS on wireguard-go), one verifying dump.
 */
import assert from "node:assert/strict";
import { chunkByArgSize, DEFAULT_ARGV_BUDGET, replaceArgs } from "../../src/wg/set_args.ts";
import { FIRST_CALL_PEERS } from "../../src/purge/pace.ts";
import { runCli } from "../harness/cli.ts";
import { WgLab } from "../harness/lab.ts";
import { sh } from "../harness/sh.ts";
import { configOf, peerByKey } from "../harness/scenario.ts";

const PEERS = 200;

Deno.test("run spawns one dump, a measuring set, one set for the rest and one verify dump for 200 stale peers", async () => {
  const lab = await WgLab.start();
  const wrapperDir = await Deno.makeTempDir({ prefix: "wr-wg-counter-" });
  try {
    const specs = Array.from(
      { length: PEERS },
      (_, i) => ({ psk: i % 2 === 0, keepalive: i % 3 === 0 ? 25 : undefined }),
    );
    const peers = await lab.handshakeMany(specs);
    assert.strictEqual(peers.filter((p) => p.result.ok).length, PEERS, "every handshake completed");
    const before = (await lab.dump()).peers;
    assert.strictEqual(
      before.filter((p) => p.endpoint !== null && p.latestHandshake > 0).length,
      PEERS,
    );

    const realWg = (await sh(["sh", "-c", "command -v wg"])).stdout.trim();
    const callLog = `${wrapperDir}/calls.log`;
    await Deno.writeTextFile(
      `${wrapperDir}/wg`,
      `#!/bin/sh\n# Counting wrapper: logs the subcommand, then runs the real wg.\nprintf '%s %s\\n' "$1" "$2" >> '${callLog}'\nexec '${realWg}' "$@"\n`,
      { mode: 0o755 },
    );
    const result = await runCli(["run", "-i", lab.iface, "--json", "--log-level", "debug"], {
      clockShift: 200,
      pathPrefix: wrapperDir,
    });
    assert.strictEqual(result.code, 0, result.log);
    // Neither the debug log nor the report carries a PSK or an endpoint address.
    for (const out of [result.log, result.stdout]) {
      assert.ok(!out.includes("172.30."), "an endpoint address leaked");
      for (const p of peers) if (p.psk) assert.ok(!out.includes(p.psk), "a PSK leaked");
    }
    assert.strictEqual(
      result.log.split("\n").filter((l) => / purged peer /.test(l)).length,
      PEERS,
    );
    const report = JSON.parse(result.stdout);
    assert.strictEqual(report.interfaces[0].purged.length, PEERS);

    const calls = (await Deno.readTextFile(callLog)).trim().split("\n");
    const expectedChunks = chunkByArgSize(
      before,
      (p) => replaceArgs(p, p.presharedKey ? "/tmp/wg-reinstate-XXXXXX/psk-000" : null),
      DEFAULT_ARGV_BUDGET,
    ).length;
    assert.strictEqual(expectedChunks, 1, "200 peers fit one wg set call's argv");
    assert.ok(PEERS > FIRST_CALL_PEERS);
    assert.deepStrictEqual(calls, [
      `show ${lab.iface}`,
      `set ${lab.iface}`,
      `set ${lab.iface}`,
      `show ${lab.iface}`,
    ]);
    console.log(`wg processes for ${PEERS} stale peers: ${calls.length} (${calls.join(", ")})`);

    const after = (await lab.dump()).peers;
    assert.strictEqual(after.length, PEERS);
    for (const p of before) {
      const now = peerByKey(after, p.publicKey);
      assert.strictEqual(now.endpoint, null);
      assert.deepStrictEqual(configOf(now), configOf(p));
    }
  } finally {
    await lab.close();
    await Deno.remove(wrapperDir, { recursive: true });
  }
});
