/**
 * The real CLI against handshakes that are really older than 180 s: no clock
 * shift, the default threshold. The test waits ~3 minutes; `deno test
 * --parallel` runs the other test files meanwhile.
 */
import assert from "node:assert/strict";
import { runCli } from "../harness/cli.ts";
import { WgLab } from "../harness/lab.ts";
import {
  buildMixedServer,
  configOf,
  peerByKey,
  protectionFlags,
  stateOf,
} from "../harness/scenario.ts";

Deno.test("run purges handshakes really older than 180 s and the clients reconnect at once", async () => {
  const lab = await WgLab.start();
  try {
    const s = await buildMixedServer(lab);
    // The keepalive client goes away (a phone leaving): otherwise the server's
    // own keepalives would renew its session, and it would rightly stay active.
    await lab.stopClient(s.keepalive);
    const handshaked = (await lab.dump()).peers;
    const newest = Math.max(
      ...s.stale.map((c) => peerByKey(handshaked, c.keys.publicKey).latestHandshake),
    );
    const waitMs = (newest + 182) * 1000 - Date.now();
    console.log(`waiting ${Math.round(waitMs / 1000)} s for real handshakes to pass 180 s`);
    await new Promise((r) => setTimeout(r, Math.max(0, waitMs)));
    const active = await lab.addClient();
    assert.ok(await lab.ping(active));

    const before = (await lab.dump()).peers;
    const r = await runCli([
      "run",
      "-i",
      lab.iface,
      ...protectionFlags(s),
      "--json",
      "--peer-times",
    ]);
    assert.strictEqual(r.code, 0, r.log);
    const report = JSON.parse(r.stdout);
    const purged = report.interfaces[0].purged as { publicKey: string; idleSeconds: number }[];
    assert.deepStrictEqual(
      new Set(purged.map((p) => p.publicKey)),
      new Set(s.stale.map((c) => c.keys.publicKey)),
    );
    for (const p of purged) assert.ok(p.idleSeconds > 180, `idle ${p.idleSeconds}`);

    const after = (await lab.dump()).peers;
    for (const c of s.stale) {
      const now = peerByKey(after, c.keys.publicKey);
      assert.strictEqual(now.endpoint, null);
      assert.deepStrictEqual(configOf(now), configOf(peerByKey(before, c.keys.publicKey)));
    }
    for (const key of [s.site.keys.publicKey, s.excluded.keys.publicKey, s.idleKey, s.halfKey]) {
      assert.deepStrictEqual(stateOf(peerByKey(after, key)), stateOf(peerByKey(before, key)));
    }
    // Their own sessions expired too, so the next packet starts a handshake at once.
    for (const c of [s.roaming, s.psk]) {
      const started = Date.now();
      await lab.pingUntilAnswered(c, 10_000);
      console.log(`${c.iface} reconnected after the purge in ${Date.now() - started} ms`);
      assert.notStrictEqual(peerByKey((await lab.dump()).peers, c.keys.publicKey).endpoint, null);
    }
  } finally {
    await lab.close();
  }
});
