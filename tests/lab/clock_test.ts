/**
 * Clock safety, with real handshakes: the daemon trusts the wall clock only
 * together with what it has itself watched on the monotonic clock, and a
 * one-shot run refuses to purge when a handshake lies in the future. Both
 * clocks are injected (tests/support/shift_clock.ts).
 */
import assert from "node:assert/strict";
import { CliProcess, runCli } from "../harness/cli.ts";
import { WgLab } from "../harness/lab.ts";
import { peerByKey } from "../harness/scenario.ts";

async function labWithClients(n: number): Promise<WgLab> {
  const lab = await WgLab.start();
  try {
    const peers = await lab.handshakeMany(
      Array.from({ length: n }, (_, i) => ({ psk: i % 2 === 0 })),
    );
    assert.ok(peers.every((p) => p.result.ok));
    return lab;
  } catch (error) {
    await lab.close();
    throw error;
  }
}

function count(text: string, pattern: RegExp): number {
  return text.split("\n").filter((l) => pattern.test(l)).length;
}

Deno.test("the daemon purges nothing when the wall clock jumps forward over live sessions", async () => {
  const lab = await labWithClients(4);
  try {
    // NTP at boot: the wall clock is a day ahead; every live handshake looks a day old.
    const daemon = new CliProcess(["daemon", "-i", lab.iface, "--interval", "1"], {
      clockShift: 86_400,
    });
    await daemon.waitFor(/(cycle done[\s\S]*){3}/);
    const status = await daemon.stop();
    assert.strictEqual(status.code, 0);
    assert.strictEqual(count(daemon.log, / [1-9]\d* purged/), 0, daemon.log);
    assert.match(daemon.log, /4 peers checked, 0 purged, kept observing=4/);
    assert.ok((await lab.dump()).peers.every((p) => p.endpoint !== null));
  } finally {
    await lab.close();
  }
});

Deno.test("the daemon purges once it has watched a stale handshake for stale-after", async () => {
  const lab = await labWithClients(4);
  try {
    // The monotonic clock runs 200 times faster: one real second is 200 s watched.
    const daemon = new CliProcess(
      ["daemon", "-i", lab.iface, "--interval", "1", "--log-level", "debug"],
      { clockShift: 600, monotonicSpeed: 200 },
    );
    await daemon.waitFor(/(purged peer[\s\S]*){4}/);
    await daemon.stop();
    const cycles = daemon.log.split(/cycle (?:done|FAILED)/);
    assert.match(cycles[0], /kept observing=4/, "the first cycle only starts watching");
    assert.ok((await lab.dump()).peers.every((p) => p.endpoint === null));
  } finally {
    await lab.close();
  }
});

Deno.test("run refuses to purge when a handshake lies in the future", async () => {
  const lab = await labWithClients(3);
  try {
    const before = (await lab.dump()).peers;
    // The wall clock is an hour behind (stepped back): ages cannot be trusted.
    const r = await runCli(["run", "-i", lab.iface, "--json"], { clockShift: -3600 });
    assert.strictEqual(r.code, 1);
    assert.match(r.log, /a latest handshake lies in the future: the clock is behind/);
    assert.deepStrictEqual(JSON.parse(r.stdout).interfaces[0].purged, []);
    const after = (await lab.dump()).peers;
    for (const p of before) assert.strictEqual(peerByKey(after, p.publicKey).endpoint, p.endpoint);
  } finally {
    await lab.close();
  }
});

Deno.test("the daemon forgets an unconfirmed endpoint of a peer configured without one", async () => {
  const lab = await WgLab.start();
  try {
    // Two real half handshakes: the server learned both endpoints, recorded no handshake.
    const [known, unknown] = await lab.handshakeMany([{ confirm: false }, { confirm: false }]);
    const conf = `${lab.workDir}/wg.conf`;
    await Deno.writeTextFile(
      conf,
      `[Peer]\nPublicKey = ${known.keys.publicKey}\nAllowedIPs = ${known.allowedIps[0]}\n`,
    );
    const before = (await lab.dump()).peers;
    assert.notStrictEqual(peerByKey(before, known.keys.publicKey).endpoint, null);
    assert.strictEqual(peerByKey(before, known.keys.publicKey).latestHandshake, 0);

    // A one-shot run leaves it: it has not watched the peer.
    const run = await runCli(["run", "-i", lab.iface, "--wg-quick-config", conf]);
    assert.strictEqual(run.code, 0, run.log);
    assert.notStrictEqual(peerByKey((await lab.dump()).peers, known.keys.publicKey).endpoint, null);

    const daemon = new CliProcess([
      "daemon",
      "-i",
      lab.iface,
      "--interval",
      "1",
      "--wg-quick-config",
      conf,
      "--log-level",
      "debug",
    ], {
      monotonicSpeed: 200,
    });
    await daemon.waitFor(/purged peer .*: endpoint from an unconfirmed initiation$/m);
    await daemon.stop();
    const after = (await lab.dump()).peers;
    assert.strictEqual(peerByKey(after, known.keys.publicKey).endpoint, null);
    assert.strictEqual(
      peerByKey(after, known.keys.publicKey).allowedIps.join(),
      known.allowedIps.join(),
    );
    assert.notStrictEqual(
      peerByKey(after, unknown.keys.publicKey).endpoint,
      null,
      "an unknown peer is left alone",
    );
  } finally {
    await lab.close();
  }
});
