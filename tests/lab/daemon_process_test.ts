/**
 * The daemon as a process against real wireguard-go: it purges, reloads its
 * config on SIGHUP, and exits 0 on SIGTERM.
 */
import assert from "node:assert/strict";
import { CliProcess } from "../harness/cli.ts";
import { WgLab } from "../harness/lab.ts";
import { peerByKey } from "../harness/scenario.ts";

Deno.test("daemon process purges, reloads its config on SIGHUP and exits 0 on SIGTERM", async () => {
  const lab = await WgLab.start();
  const config = await Deno.makeTempFile({ suffix: ".json" });
  let daemon: CliProcess | null = null;
  try {
    const plain = await lab.addClient();
    const withPsk = await lab.addClient({ psk: true });
    for (const c of [plain, withPsk]) assert.ok(await lab.ping(c));
    const settings = (exclude: string[]) =>
      JSON.stringify({ interfaces: [lab.iface], interval: 1, exclude });
    await Deno.writeTextFile(config, settings([withPsk.keys.publicKey]));

    // The daemon purges what it has watched for stale-after on its monotonic
    // clock; running that clock 200 times faster makes it one real second.
    daemon = new CliProcess(["daemon", "--config", config], {
      clockShift: 300,
      monotonicSpeed: 200,
    });
    await daemon.waitFor(/cycle done .* 1 purged/);
    let peers = (await lab.dump()).peers;
    assert.strictEqual(peerByKey(peers, plain.keys.publicKey).endpoint, null);
    assert.notStrictEqual(peerByKey(peers, withPsk.keys.publicKey).endpoint, null, "excluded");

    await Deno.writeTextFile(config, settings([]));
    daemon.child.kill("SIGHUP");
    await daemon.waitFor(/settings reloaded[\s\S]* 1 purged \(stale=1\)/);
    peers = (await lab.dump()).peers;
    assert.strictEqual(peerByKey(peers, withPsk.keys.publicKey).endpoint, null);
    assert.strictEqual(peerByKey(peers, withPsk.keys.publicKey).presharedKey, withPsk.psk);

    const status = await daemon.stop("SIGTERM");
    assert.match(daemon.log, /daemon stopping on signal/);
    daemon = null;
    assert.strictEqual(status.code, 0);
  } finally {
    await daemon?.stop("SIGKILL");
    await lab.close();
    await Deno.remove(config);
  }
});
