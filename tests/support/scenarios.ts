/**
 * Integration test bodies that run on both WireGuard implementations: each
 * takes the implementation, builds its own lab and drives the real CLI. The
 * lab tier runs them on wireguard-go (tests/lab/both_impl_test.ts), the
 * kernel tier on the kernel module in the VM (tests/kernel/both_impl_test.ts),
 * as wireguard-go runs one test body over several transports.
 *
 * @module
 */
import assert from "node:assert/strict";
import { CliProcess, runCli } from "../harness/cli.ts";
import { type WgImpl, WgLab } from "../harness/lab.ts";
import { buildMixedServer, protectionFlags } from "../harness/scenario.ts";

/** `wg show IFACE dump` peer lines as wg printed them, by public key, columns split. */
export async function rawPeers(lab: WgLab): Promise<Map<string, string[]>> {
  const lines = (await lab.wg("show", lab.iface, "dump")).trimEnd().split("\n").slice(1);
  return new Map(lines.map((line) => [line.split("\t")[0], line.split("\t")]));
}

/** The dump columns a purge must keep byte for byte: key, PSK, allowed-ips, keepalive. */
const CONFIG_COLUMNS = [0, 1, 3, 7];
const ENDPOINT = 2;
const HANDSHAKE = 4;
const RX = 5;
const TX = 6;

const pick = (cols: string[], which: number[]) => which.map((i) => cols[i]);

/** Names a scenario for a test: `<what> (<implementation>)`. */
export function scenarioName(what: string, impl: WgImpl): string {
  return `${what} (${impl === "go" ? "wireguard-go" : "kernel WireGuard"})`;
}

/**
 * The purge on a mixed server: stale clients (PSK, IPv6 endpoint, keepalive,
 * several v4 and v6 ranges) lose their endpoint and nothing else, byte for
 * byte; the excluded, the site-to-site, the idle and the half-open peers are
 * untouched. Then a purged client passes traffic again. Returns what the
 * purge reset, for the README's table.
 */
export async function purgeKeepsConfigurations(impl: WgImpl): Promise<void> {
  const lab = await WgLab.start({ impl });
  try {
    const s = await buildMixedServer(lab);
    const before = await rawPeers(lab);
    const stale = new Set(s.stale.map((c) => c.keys.publicKey));
    const orderBefore = [...before.keys()];
    const r = await runCli(["run", "-i", lab.iface, ...protectionFlags(s)], {
      clockShift: 300,
      netns: lab.serverNs,
    });
    assert.strictEqual(r.code, 0, r.log);
    assert.match(r.log, /7 peers checked, 3 purged/);
    const after = await rawPeers(lab);
    assert.deepStrictEqual([...after.keys()].sort(), orderBefore.slice().sort(), "no peer lost");
    for (const [key, was] of before) {
      const now = after.get(key)!;
      assert.deepStrictEqual(pick(now, CONFIG_COLUMNS), pick(was, CONFIG_COLUMNS), "config kept");
      if (stale.has(key)) {
        // What a purge resets: endpoint, handshake and the transfer counters.
        assert.deepStrictEqual(pick(now, [ENDPOINT, HANDSHAKE, RX, TX]), ["(none)", "0", "0", "0"]);
      } else {
        assert.deepStrictEqual(pick(now, [ENDPOINT, HANDSHAKE]), pick(was, [ENDPOINT, HANDSHAKE]));
      }
    }
    assert.ok(s.psk.allowedIps.length >= 3 && before.get(s.psk.keys.publicKey)![1] !== "(none)");
    // The kernel lists peers in the order they were added: a re-added peer
    // moves to the end. wireguard-go keeps them in a map, in no fixed order.
    const orderAfter = [...after.keys()];
    if (impl === "kernel") {
      const kept = orderBefore.filter((k) => !stale.has(k));
      assert.deepStrictEqual(orderAfter, [...kept, ...orderBefore.filter((k) => stale.has(k))]);
    }
    // Its session is gone on the server: the client, whose own session is
    // still fresh, keeps sending on it until it gives up and handshakes anew
    // (about 15 s on both implementations).
    const started = performance.now();
    await lab.pingUntilAnswered(s.psk, 60_000);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const back = (await rawPeers(lab)).get(s.psk.keys.publicKey)!;
    assert.notStrictEqual(back[ENDPOINT], "(none)");
    assert.ok(Number(back[HANDSHAKE]) > Number(before.get(s.psk.keys.publicKey)![HANDSHAKE]));
    assert.deepStrictEqual(
      pick(back, CONFIG_COLUMNS),
      pick(before.get(s.psk.keys.publicKey)!, CONFIG_COLUMNS),
    );
    console.log(
      `${impl}: purged client with a fresh session passed traffic again after ${seconds} s`,
    );
  } finally {
    await lab.close();
  }
}

/**
 * A handshake initiation captured before a purge is answered once replayed
 * after it: the re-added peer has no record of the last initiation's
 * timestamp. The server stores the replayer's address as the endpoint, with
 * no handshake. Before the purge the same replay is ignored. The daemon then
 * forgets that endpoint when a config lists the peer without one.
 */
export async function replayAfterPurge(impl: WgImpl): Promise<void> {
  const lab = await WgLab.start({ impl });
  try {
    const [victim] = await lab.handshakeMany([{ psk: true }]);
    assert.ok(victim.result.ok && victim.result.initiation !== undefined);
    const key = victim.keys.publicKey;
    const endpointOf = async () => (await rawPeers(lab)).get(key)![ENDPOINT];
    const original = await endpointOf();

    assert.strictEqual(await lab.replay(victim.result.initiation!, 30_001), false);
    assert.strictEqual(await endpointOf(), original, "a replay before the purge is ignored");

    const run = await runCli(["run", "-i", lab.iface], { clockShift: 300, netns: lab.serverNs });
    assert.strictEqual(run.code, 0, run.log);
    assert.strictEqual(await endpointOf(), "(none)");

    assert.strictEqual(await lab.replay(victim.result.initiation!, 30_002), true);
    const replayed = (await rawPeers(lab)).get(key)!;
    assert.match(replayed[ENDPOINT], /:30002$/, "the replayer's address is stored");
    assert.strictEqual(replayed[HANDSHAKE], "0", "no handshake completes");

    // What the tool does about it: the daemon forgets an endpoint without a
    // completed handshake, after watching it for stale-after, for a peer that
    // a config lists without an endpoint.
    const conf = `${lab.workDir}/wg.conf`;
    await Deno.writeTextFile(
      conf,
      `[Peer]\nPublicKey = ${key}\nAllowedIPs = ${victim.allowedIps}\n`,
    );
    const daemon = new CliProcess(
      ["daemon", "-i", lab.iface, "--interval", "1", "--wg-quick-config", conf],
      { monotonicSpeed: 200, netns: lab.serverNs },
    );
    try {
      await daemon.waitFor(/purged peer .* endpoint from an unconfirmed initiation/);
    } finally {
      await daemon.stop();
    }
    assert.strictEqual(await endpointOf(), "(none)");
  } finally {
    await lab.close();
  }
}

/** Registers every scenario above as a test on `impl`: one call per tier. */
export function testOnImplementation(impl: WgImpl): void {
  Deno.test(
    scenarioName("run forgets stale endpoints, keeps every configuration byte for byte", impl),
    () => purgeKeepsConfigurations(impl),
  );
  Deno.test(
    scenarioName("an initiation replayed after a purge is answered; the daemon forgets it", impl),
    () => replayAfterPurge(impl),
  );
}
