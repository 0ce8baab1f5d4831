/**
 * runCycle against the FAKE in-memory `wg`: what is purged and kept, a dry
 * run, the refusals, missing and busy interfaces, key-file failures, the
 * daemon's observation wait, and no peer lost in any fault.
 */
import assert from "node:assert/strict";
import { UnsafePathError } from "../../src/common/errors.ts";
import { logger } from "../../src/cli/log.ts";
import { type CycleOptions, runCycle } from "../../src/purge/cycle.ts";
import { lockInterfaces } from "../../src/purge/lock.ts";
import { PeerObservations } from "../../src/purge/observations.ts";
import type { WgPeer } from "../../src/wg/dump.ts";
import { FakeWg } from "../support/fake_wg.ts";
import { withLogs } from "../support/log_capture.ts";
import { configsByKey, key, keyN, manyPeers, peer, policy } from "../support/peers.ts";
import { FIRST_CALL_PEERS, TARGET_CALL_MS } from "../../src/purge/pace.ts";
import { REPAIR_PEERS_PER_CALL } from "../../src/purge/repair.ts";

const NOW = 100_000;

/** Runs one cycle in a fresh private directory; returns the report and the log lines. */
async function cycle(wg: FakeWg, over: Partial<CycleOptions> = {}) {
  const dir = await Deno.makeTempDir({ prefix: "wr-unit-" });
  try {
    return await withLogs(() =>
      runCycle(wg, {
        interfaces: "all",
        dryRun: false,
        wgTimeoutMs: 10_000,
        clockMs: () => wg.elapsedMs,
        now: () => NOW,
        policyFor: () => Promise.resolve(policy()),
        keyDir: dir,
        lockDir: dir,
        sleep: () => Promise.resolve(),
        ...over,
      }, logger("purge"))
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A mixed interface: stale (with and without PSK), active, never handshaked, excluded, dialed. */
function mixed(): WgPeer[] {
  return [
    peer({ publicKey: key("a"), latestHandshake: NOW - 600, presharedKey: key("p") }),
    peer({ publicKey: key("b"), latestHandshake: NOW - 181, persistentKeepalive: 25 }),
    peer({ publicKey: key("c"), latestHandshake: NOW - 30 }),
    peer({ publicKey: key("d"), latestHandshake: 0 }),
    peer({ publicKey: key("e"), latestHandshake: NOW - 600 }),
    peer({ publicKey: key("f"), latestHandshake: NOW - 600 }),
    peer({ publicKey: key("g"), latestHandshake: NOW - 600, endpoint: null }),
  ];
}

const protect = () =>
  Promise.resolve(policy({
    exclude: new Set([key("e")]),
    configuredEndpoints: new Set([key("f")]),
  }));

Deno.test("runCycle purges stale peers, keeps the rest with their reasons", async () => {
  const peers = mixed();
  const wg = new FakeWg().addInterface("wg0", peers);
  const { result, lines } = await cycle(wg, { policyFor: protect });
  assert.strictEqual(result.ok, true);
  const [iface] = result.interfaces;
  assert.deepStrictEqual(iface.purged.map((p) => [p.publicKey, p.reason, p.idleSeconds]), [
    [key("a"), "stale", 600],
    [key("b"), "stale", 181],
  ]);
  assert.deepStrictEqual(iface.kept, {
    "active": 1,
    "no-endpoint": 1,
    "never-handshaked": 1,
    "excluded": 1,
    "configured-endpoint": 1,
    "handshake-in-future": 0,
    "observing": 0,
  });
  const after = new Map(wg.peers("wg0").map((p) => [p.publicKey, p]));
  assert.strictEqual(after.get(key("a"))!.endpoint, null);
  assert.strictEqual(after.get(key("a"))!.presharedKey, key("p"));
  assert.strictEqual(after.get(key("b"))!.persistentKeepalive, 25);
  for (const k of ["c", "d", "e", "f"]) assert.notStrictEqual(after.get(key(k))!.endpoint, null);
  assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers));
  // Logs name peers by 8 characters and never hold an endpoint or a key.
  const text = lines.join("\n");
  assert.match(text, /\[DBG\] .*purged peer aaaaaaaa… on wg0: stale$/m);
  assert.match(text, /\[INF\] .*wg0: 7 peers checked, 2 purged \(stale=2\), kept/);
  assert.ok(!/\b(600|181) ?s\b|idle/.test(text), "no per-peer time");
  assert.match(text, /cycle done in \d+ ms: 7 peers checked, 2 purged/);
  assert.ok(!/192\.0\.2\.1|:51820/.test(text), text);
  assert.ok(!text.includes(key("p")) && !text.includes(key("a")), text);
});

Deno.test("runCycle hands wg the stale peers in random order, and reports them in the order read", async () => {
  const peers = manyPeers(60, NOW - 600);
  const orders: string[][] = [];
  for (let i = 0; i < 2; i++) {
    const wg = new FakeWg().addInterface("wg0", peers);
    const { result } = await cycle(wg);
    const handed = wg.sets.flatMap((c) => c.peers.map((p) => p.publicKey));
    assert.deepStrictEqual([...handed].sort(), peers.map((p) => p.publicKey).sort());
    assert.deepStrictEqual(
      result.interfaces[0].purged.map((p) => p.publicKey),
      peers.map((p) => p.publicKey),
    );
    orders.push(handed);
  }
  // 60! orders: the same one twice, or the order read, would not be chance.
  assert.notDeepStrictEqual(orders[0], peers.map((p) => p.publicKey));
  assert.notDeepStrictEqual(orders[0], orders[1]);
});

Deno.test("runCycle in a dry run reports what it would purge and changes nothing", async () => {
  const peers = mixed();
  const wg = new FakeWg().addInterface("wg0", peers);
  const { result, lines } = await cycle(wg, { dryRun: true, policyFor: protect });
  assert.strictEqual(result.interfaces[0].purged.length, 2);
  assert.deepStrictEqual(wg.sets, []);
  assert.deepStrictEqual(wg.peers("wg0"), peers);
  assert.ok(lines.some((l) => /would purge peer aaaaaaaa…/.test(l)));
});

Deno.test("runCycle purges nothing on any interface when a handshake lies in the future", async () => {
  const wg = new FakeWg()
    .addInterface("wg0", [peer({ publicKey: key("a"), latestHandshake: NOW - 600 })])
    .addInterface("wg1", [peer({ publicKey: key("b"), latestHandshake: NOW + 60 })]);
  const { result, lines } = await cycle(wg);
  assert.strictEqual(result.ok, false);
  assert.deepStrictEqual(wg.sets, []);
  assert.deepStrictEqual(result.interfaces.map((i) => i.error), [
    "refused: a latest handshake lies in the future",
    "refused: a latest handshake lies in the future",
  ]);
  assert.ok(lines.some((l) => /clock is behind/.test(l)));
});

Deno.test("runCycle names a missing interface and still purges the others", async () => {
  const wg = new FakeWg().addInterface("wg0", manyPeers(3));
  const { result } = await cycle(wg, { interfaces: ["wg0", "wgX"] });
  assert.strictEqual(result.ok, false);
  assert.deepStrictEqual(result.interfaces.map((i) => [i.name, i.purged.length, i.error]), [
    ["wgX", 0, "WireGuard interface wgX does not exist (see: wg show interfaces)"],
    ["wg0", 3, null],
  ]);
});

Deno.test("runCycle skips an interface whose lock another process holds", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wr-unit-" });
  const held = await lockInterfaces(dir, ["wg0"]);
  try {
    const wg = new FakeWg().addInterface("wg0", manyPeers(2)).addInterface("wg1", manyPeers(2));
    // The same process's second open file description conflicts like another process's.
    const { result } = await cycle(wg, { lockDir: dir });
    assert.deepStrictEqual(result.busy, ["wg0"]);
    assert.deepStrictEqual(result.interfaces.map((i) => i.name), ["wg1"]);
    assert.deepStrictEqual(wg.sets.map((c) => c.target), ["wg1"]);
  } finally {
    held.release();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runCycle changes nothing when the key directory cannot be made", async () => {
  const peers = manyPeers(4);
  const wg = new FakeWg().addInterface("wg0", peers);
  const file = await Deno.makeTempFile();
  try {
    await assert.rejects(
      () => cycle(wg, { keyDir: `${file}/keys` }),
      (e: unknown) =>
        e instanceof UnsafePathError && /^keyDir: .*is not a directory/.test(e.message),
    );
    assert.deepStrictEqual(wg.sets, []);
    assert.deepStrictEqual(wg.peers("wg0"), peers);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("runCycle runs no wg set once the key directory was replaced, and loses nothing (FAKE)", async () => {
  const peers = manyPeers(40); // every other one with a preshared key
  const dir = await Deno.makeTempDir({ prefix: "wr-unit-" });
  try {
    // After the first call, the test swaps the key directory for another one:
    // what an attacker with write access to the parent would do (the
    // safe-path rule forbids such a parent; this is the second guard).
    const wg = new FakeWg().addInterface("wg0", peers).onSet(async () => {
      const [keys] = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("keys-"));
      if (keys === undefined || wg.sets.length !== 1) return;
      await Deno.rename(`${dir}/${keys.name}`, `${dir}/moved`);
      await Deno.mkdir(`${dir}/${keys.name}`, { mode: 0o700 });
    });
    const { result, lines } = await cycle(wg, { keyDir: dir });
    assert.strictEqual(wg.sets.length, 1, "no call after the swap");
    assert.match(result.interfaces[0].error ?? "", /is no longer the one created; not running wg/);
    assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers), "0 lost");
    assert.ok(lines.some((l) => /no longer the one created/.test(l)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runCycle still purges the peers without a key when the key directory is replaced (FAKE)", async () => {
  const peers = manyPeers(4);
  const dir = await Deno.makeTempDir({ prefix: "wr-unit-" });
  try {
    const wg = new FakeWg().addInterface("wg0", peers);
    // The key directory is swapped before the first call: the call runs nothing.
    const replace = wg.replacePeers.bind(wg);
    wg.replacePeers = async (...args) => {
      const [keys] = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("keys-"));
      await Deno.rename(`${dir}/${keys.name}`, `${dir}/moved`);
      await Deno.mkdir(`${dir}/${keys.name}`, { mode: 0o700 });
      return await replace(...args);
    };
    const { result, lines } = await cycle(wg, { keyDir: dir });
    // Only the peers without a preshared key went: they need no key file.
    const keyless = peers.filter((p) => p.presharedKey === null).map((p) => p.publicKey);
    assert.ok(keyless.length > 0 && keyless.length < peers.length);
    assert.deepStrictEqual(
      wg.sets.flatMap((c) => c.peers.map((p) => p.publicKey)).sort(),
      keyless.sort(),
    );
    assert.match(result.interfaces[0].error ?? "", /not running wg with it/);
    assert.deepStrictEqual(result.interfaces[0].repaired, []);
    assert.ok(
      lines.some((l) => /\[ERR\].* wg0: .*not running wg with it/.test(l)),
      lines.join("\n"),
    );
    assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers), "0 lost");
    const after = new Map(wg.peers("wg0").map((p) => [p.publicKey, p]));
    for (const p of peers.filter((p) => p.presharedKey !== null)) {
      assert.strictEqual(after.get(p.publicKey)?.endpoint, p.endpoint, "left as it was");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runCycle loses no peer whatever call of wg set fails (FAKE)", async (t) => {
  for (const failing of [0, 1, 2]) {
    await t.step(`call ${failing}`, async () => {
      // 33 ms a peer: calls of 32, then 60, then the last 8 peers.
      const peers = manyPeers(100);
      const faults = [null, null, null];
      faults[failing] = { kind: "fail-after" } as never;
      const wg = new FakeWg({ msPerBlock: 16.5 }).addInterface("wg0", peers)
        .script("set", ...faults);
      const { result } = await cycle(wg);
      assert.strictEqual(result.ok, false);
      // Every peer of the failing call is re-added, 16 a call (REPAIR_PEERS_PER_CALL).
      const size = [32, 60, 8][failing];
      const repairs = Math.ceil(size / REPAIR_PEERS_PER_CALL);
      assert.strictEqual(wg.sets.length, failing + 1 + repairs, "the failing call, then repairs");
      assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers), "0 peers lost");
      const repaired = result.interfaces[0].repaired;
      assert.strictEqual(repaired.length, size);
      assert.ok(repaired.every((r) => r.restored));
    });
  }
});

Deno.test("runCycle loses no peer when wg set hangs until its timeout (FAKE)", async () => {
  const peers = manyPeers(10);
  const wg = new FakeWg({ timeoutMs: 10_000 }).addInterface("wg0", peers)
    .script("set", { kind: "hang", blocks: 7 });
  const { result } = await cycle(wg);
  assert.strictEqual(result.ok, false);
  assert.match(result.interfaces[0].error ?? "", /did not finish/);
  assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers));
  assert.strictEqual(wg.elapsedMs, 10_000, "virtual time: no real waiting");
});

Deno.test("runCycle never stops a slow wg set that is working, at any size (FAKE slow set)", async () => {
  // A PREEMPT_RT kernel: ~33 ms per removed peer. 1,500 PSK peers would take
  // a whole minute in one call, six times --wg-timeout.
  const peers = manyPeers(1500).map((p) => ({ ...p, presharedKey: p.presharedKey ?? keyN(9, 9) }));
  const wg = new FakeWg({ msPerBlock: 16.5 }).addInterface("wg0", peers);
  const { result } = await cycle(wg, { wgTimeoutMs: 10_000 });
  assert.strictEqual(result.ok, true, result.interfaces[0].error ?? "");
  assert.strictEqual(result.interfaces[0].purged.length, 1500);
  assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers), "0 configs changed");
  assert.strictEqual(wg.peers("wg0").filter((p) => p.endpoint !== null).length, 0);
  // The first call is small; the rest are sized to take about TARGET_CALL_MS.
  const sizes = wg.sets.map((c) => c.peers.length);
  assert.strictEqual(sizes[0], FIRST_CALL_PEERS);
  const expectedPerCall = Math.floor(TARGET_CALL_MS / 33);
  assert.ok(sizes.slice(1, -1).every((n) => n === expectedPerCall), sizes.join(" "));
  // Every call stayed far inside its own limit.
  wg.sets.forEach((_, i) => assert.ok(sizes[i] * 33 < wg.limits[i]!, `call ${i}`));
});

Deno.test("runCycle stops between calls when asked and loses nothing (FAKE slow set)", async () => {
  const peers = manyPeers(300);
  const wg = new FakeWg({ msPerBlock: 16.5 }).addInterface("wg0", peers);
  const stop = new AbortController();
  wg.onSet(() => Promise.resolve(stop.abort())); // SIGTERM arrives while the first call runs
  const { result, lines } = await cycle(wg, { stop: stop.signal });
  const report = result.interfaces[0];
  assert.strictEqual(wg.sets.length, 1, "no call after the stop request");
  assert.strictEqual(report.purged.length, FIRST_CALL_PEERS);
  assert.strictEqual(report.stoppedEarly, 300 - FIRST_CALL_PEERS);
  assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers));
  assert.ok(
    lines.some((l) => /stopping on request; 268 stale peers left for the next cycle/.test(l)),
  );
});

Deno.test("runCycle in the daemon purges only what it has watched for stale-after", async () => {
  const peers = [peer({ publicKey: key("a"), latestHandshake: NOW - 600 })];
  const wg = new FakeWg().addInterface("wg0", peers);
  let monotonic = 5;
  const observe = { observations: new PeerObservations(), monotonic: () => monotonic };
  const first = await cycle(wg, { observe });
  assert.strictEqual(first.result.interfaces[0].kept.observing, 1);
  assert.deepStrictEqual(wg.sets, []);
  monotonic += 181;
  const second = await cycle(wg, { observe });
  assert.strictEqual(second.result.interfaces[0].purged.length, 1);
  assert.strictEqual(wg.peers("wg0")[0].endpoint, null);
});

Deno.test("runCycle in the daemon forgets an unconfirmed endpoint of a peer configured without one", async () => {
  const unconfirmed = peer({ publicKey: key("u"), latestHandshake: 0 });
  const unlisted = peer({ publicKey: key("v"), latestHandshake: 0 });
  const wg = new FakeWg().addInterface("wg0", [unconfirmed, unlisted]);
  let monotonic = 0;
  const observe = { observations: new PeerObservations(), monotonic: () => monotonic };
  const policyFor = () =>
    Promise.resolve(policy({ configuredWithoutEndpoint: new Set([key("u")]) }));
  await cycle(wg, { observe, policyFor });
  monotonic = 200;
  const { result, lines } = await cycle(wg, { observe, policyFor });
  assert.deepStrictEqual(result.interfaces[0].purged.map((p) => [p.publicKey, p.reason]), [
    [key("u"), "unconfirmed"],
  ]);
  assert.strictEqual(result.interfaces[0].kept["never-handshaked"], 1);
  assert.ok(lines.some((l) => /purged peer .*: endpoint from an unconfirmed initiation$/.test(l)));
});
