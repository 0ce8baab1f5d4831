/**
 * wg-quick's `SaveConfig = true` on real wireguard-go: the file that
 * wg-quick writes at `down` (its [Interface] lines, then `wg showconf` of
 * the live interface) holds every client's current endpoint. The tool warns
 * of it, takes none of those Endpoint lines for a peer this side dials, and
 * forgets the clients' endpoints.
 */
import assert from "node:assert/strict";
import { runCli } from "../harness/cli.ts";
import { WgLab } from "../harness/lab.ts";

Deno.test("run warns of a wg-quick file saved with SaveConfig = true and forgets the endpoints it saved", async () => {
  const lab = await WgLab.start();
  try {
    const peers = await lab.handshakeMany([{}, { psk: true }]);
    assert.ok(peers.every((p) => p.result.ok), "real handshakes");
    // As wg-quick's save_config writes it: the real `wg showconf`, SaveConfig kept.
    const shown = await lab.wg("showconf", lab.iface);
    const saved = shown.replace("[Interface]\n", "[Interface]\nSaveConfig = true\n");
    const endpoints = [...shown.matchAll(/^Endpoint = (.+)$/gm)].map((m) => m[1]);
    assert.strictEqual(endpoints.length, 2, "wg showconf saved both clients' endpoints");
    const conf = `${lab.workDir}/${lab.iface}.conf`;
    await Deno.writeTextFile(conf, saved, { mode: 0o600 });

    const run = await runCli(["run", "-i", lab.iface, "--wg-quick-config", conf], {
      clockShift: 600,
    });
    assert.strictEqual(run.code, 0, run.log);
    assert.match(run.log, /has SaveConfig = true: wg-quick writes every peer's endpoint into it/);
    assert.match(run.log, /2 peers checked, 2 purged \(stale=2\)/);
    for (const endpoint of endpoints) assert.ok(!run.log.includes(endpoint), "no address logged");
    assert.ok((await lab.dump()).peers.every((p) => p.endpoint === null), "endpoints forgotten");
  } finally {
    await lab.close();
  }
});
