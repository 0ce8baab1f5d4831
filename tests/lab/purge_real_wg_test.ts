/**
 * The purge core against a real wireguard-go server with real clients. The
 * clock is injected: the cycle runs "181 s later" than the last stale
 * client's handshake, so no test has to wait for real.
 */
import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { cycleOptions } from "../../src/config/cycle_options.ts";
import { resolveSettings } from "../../src/config/schema.ts";
import { lineFormatter, logger, startLogging, stopLogging } from "../../src/cli/log.ts";
import { runCycle } from "../../src/purge/cycle.ts";
import { type Wg, WgCommand } from "../../src/wg/command.ts";
import { WgLab } from "../harness/lab.ts";
import {
  buildMixedServer,
  configOf,
  peerByKey,
  stateOf,
  statesByKey,
} from "../harness/scenario.ts";
import type { WgPeer } from "../../src/wg/dump.ts";

const wg = new WgCommand({ wgPath: "wg", timeoutMs: 10_000 });

/** Collects log lines formatted WITHOUT the redaction guard, to prove nothing leaks into them. */
function captureLogs(level: "debug" | "info" = "debug"): string[] {
  const lines: string[] = [];
  const format = lineFormatter("text");
  startLogging({ logLevel: level }, (r: LogRecord) => lines.push(format(r)));
  return lines;
}

Deno.test("purge cycle forgets exactly the stale endpoints and keeps every configuration", async () => {
  const lab = await WgLab.start();
  const keyParent = await Deno.makeTempDir({ prefix: "wr-psk-parent-" });
  try {
    const s = await buildMixedServer(lab);
    await new Promise((r) => setTimeout(r, 2100));
    const active = await lab.addClient();
    assert.ok(await lab.ping(active), "active client handshakes");

    const before = (await lab.dump()).peers;
    const lastStale = Math.max(
      ...s.stale.map((c) => peerByKey(before, c.keys.publicKey).latestHandshake),
    );
    const now = () => lastStale + 181;
    const settings = resolveSettings([{
      source: "test",
      values: {
        interfaces: [lab.iface],
        wgQuickConfig: s.wgQuickFile,
        exclude: [s.excluded.keys.publicKey],
        // Never the host's own run directory.
        keyDir: keyParent,
        lockDir: keyParent,
      },
    }]);
    const options = cycleOptions(settings, now);
    const endpoints = before.map((p) => p.endpoint).filter((e): e is string => e !== null);
    const addresses = endpoints.map((e) => e.replace(/:\d+$/, "").replace(/^\[|\]$/g, ""));
    assert.ok(addresses.length >= 7, "every connected peer has an endpoint before");

    // Dry run: reports the plan, changes nothing.
    const logs = captureLogs();
    const dry = await runCycle(wg, { ...options, dryRun: true }, logger("purge"));
    const afterDry = (await lab.dump()).peers;
    const notActive = (peers: WgPeer[]) =>
      statesByKey(peers.filter((p) => p.publicKey !== active.keys.publicKey));
    assert.deepStrictEqual(notActive(afterDry), notActive(before));
    assert.deepStrictEqual(
      new Set(dry.interfaces[0].purged.map((p) => p.publicKey)),
      new Set(s.stale.map((c) => c.keys.publicKey)),
    );

    // The real cycle.
    const report = await runCycle(wg, options, logger("purge"));
    stopLogging();
    const after = (await lab.dump()).peers;

    assert.strictEqual(report.ok, true);
    const [r] = report.interfaces;
    assert.deepStrictEqual(
      new Set(r.purged.map((p) => p.publicKey)),
      new Set(s.stale.map((c) => c.keys.publicKey)),
    );
    for (const p of r.purged) assert.ok(p.idleSeconds > 180);
    assert.deepStrictEqual(r.kept, {
      "active": 1,
      "no-endpoint": 1,
      "never-handshaked": 1,
      "excluded": 1,
      "configured-endpoint": 1,
      "handshake-in-future": 0,
      "observing": 0,
    });
    assert.deepStrictEqual(r.repaired, []);

    // Exactly the stale peers lost their endpoint; their configuration is identical.
    assert.strictEqual(after.length, before.length, "no peer lost or added");
    for (const client of s.stale) {
      const was = peerByKey(before, client.keys.publicKey);
      const now = peerByKey(after, client.keys.publicKey);
      assert.strictEqual(now.endpoint, null, client.iface);
      assert.strictEqual(now.latestHandshake, 0, client.iface);
      assert.deepStrictEqual(configOf(now), configOf(was), client.iface);
    }
    assert.strictEqual(peerByKey(after, s.psk.keys.publicKey).presharedKey, s.psk.psk);
    assert.deepStrictEqual(peerByKey(after, s.psk.keys.publicKey).allowedIps, [
      "10.77.0.3/32",
      "fd77::2/128",
      "10.77.100.0/24",
    ]);
    assert.strictEqual(peerByKey(after, s.keepalive.keys.publicKey).persistentKeepalive, 25);
    for (const key of [s.site.keys.publicKey, s.excluded.keys.publicKey, s.idleKey, s.halfKey]) {
      assert.deepStrictEqual(stateOf(peerByKey(after, key)), stateOf(peerByKey(before, key)));
    }
    assert.notStrictEqual(peerByKey(after, active.keys.publicKey).endpoint, null);

    // The preshared-key directory is gone.
    assert.deepStrictEqual([...Deno.readDirSync(keyParent)], []);

    // Logs: one debug line per purge, a summary, and never an address, a PSK or a peer's time.
    const text = logs.join("");
    assert.ok(logs.filter((l) => /purge peer/.test(l)).every((l) => /\[DBG\]/.test(l)), text);
    assert.doesNotMatch(text, /idle|handshake \d|\d+ s\b/);
    assert.strictEqual(logs.filter((l) => / purged peer /.test(l)).length, 3, text);
    assert.strictEqual(logs.filter((l) => /would purge peer/.test(l)).length, 3, text);
    assert.match(
      text,
      new RegExp(
        `${lab.iface}: 8 peers checked, 3 purged \\(stale=3\\), kept active=1 no-endpoint=1 never-handshaked=1 excluded=1 configured-endpoint=1`,
      ),
    );
    assert.match(text, /cycle done in \d+ ms: 8 peers checked, 3 purged/);
    for (const address of addresses) assert.ok(!text.includes(address), `log leaks ${address}`);
    for (const psk of [s.psk.psk!, s.excluded.psk!]) {
      assert.ok(!text.includes(psk), "log leaks a PSK");
    }

    // Every purged client handshakes again, passes traffic, and the server learns its new endpoint.
    await Promise.all(s.stale.map((c) => lab.pingUntilAnswered(c)));
    const later = (await lab.dump()).peers;
    for (const client of s.stale) {
      const p = peerByKey(later, client.keys.publicKey);
      assert.notStrictEqual(p.endpoint, null, client.iface);
      assert.ok(p.latestHandshake > 0, client.iface);
      assert.deepStrictEqual(configOf(p), configOf(peerByKey(before, client.keys.publicKey)));
    }
  } finally {
    stopLogging();
    await lab.close();
    await Deno.remove(keyParent, { recursive: true });
  }
});

Deno.test("purge cycle with nothing stale changes nothing and spawns no wg set", async () => {
  const lab = await WgLab.start();
  try {
    const a = await lab.addClient({ psk: true });
    assert.ok(await lab.ping(a));
    const before = (await lab.dump()).peers;
    const calls: string[][] = [];
    const counting: Wg = {
      show: wg.show.bind(wg),
      scan: wg.scan.bind(wg),
      interfaces: wg.interfaces.bind(wg),
      replacePeers: (i, peers, options) => (
        calls.push(peers.map((p) => p.publicKey)), wg.replacePeers(i, peers, options)
      ),
    };
    const settings = resolveSettings([{
      source: "test",
      values: { interfaces: [lab.iface], lockDir: lab.workDir, keyDir: lab.workDir },
    }]);
    const report = await runCycle(
      counting,
      cycleOptions(settings, () => Date.now() / 1000),
      logger("purge"),
    );
    assert.strictEqual(report.ok, true);
    assert.deepStrictEqual(report.interfaces[0].purged, []);
    assert.strictEqual(report.interfaces[0].kept.active, 1);
    assert.deepStrictEqual(calls, []);
    assert.deepStrictEqual(statesByKey((await lab.dump()).peers), statesByKey(before));
  } finally {
    await lab.close();
  }
});
