/**
 * purgePeers against the FAKE in-memory `wg`: calls sized by the pace, the
 * stop at the first failing call, and what counts as attempted. How a call
 * becomes argv (chunks, E2BIG, key files) is tested in replace_test.ts.
 */
import assert from "node:assert/strict";
import type { WgError } from "../../src/common/errors.ts";
import { purgePeers } from "../../src/purge/apply.ts";
import { FIRST_CALL_PEERS, SetPace } from "../../src/purge/pace.ts";
import { FakeWg } from "../support/fake_wg.ts";
import { withKeyDir } from "../support/key_dir.ts";
import { configsByKey, manyPeers } from "../support/peers.ts";

const calls = (wg: FakeWg) => ({ pace: new SetPace(10_000), clockMs: () => wg.elapsedMs });

Deno.test("purgePeers removes and re-adds every peer, in calls sized by the pace", async () => {
  const peers = manyPeers(100);
  const wg = new FakeWg({ msPerBlock: 5 }).addInterface("wg0", peers);
  const outcome = await withKeyDir((keys) => purgePeers(wg, "wg0", peers, keys, calls(wg)));
  assert.strictEqual(outcome.failure, null);
  assert.deepStrictEqual(outcome.attempted.map((p) => p.publicKey), peers.map((p) => p.publicKey));
  // The first call measures (10 ms a peer), the next takes what fits in 2 s: the rest.
  assert.deepStrictEqual(wg.sets.map((c) => c.peers.length), [FIRST_CALL_PEERS, 100 - 32]);
  const after = wg.peers("wg0");
  assert.deepStrictEqual(configsByKey(after), configsByKey(peers));
  assert.deepStrictEqual(
    after.map((p) => p.publicKey),
    peers.map((p) => p.publicKey),
    "order kept",
  );
  assert.ok(after.every((p) => p.endpoint === null && p.latestHandshake === 0));
});

Deno.test("purgePeers hands wg the configuration read before, preshared keys included", async () => {
  const peers = manyPeers(6);
  const wg = new FakeWg().addInterface("wg0", peers);
  await withKeyDir((keys) => purgePeers(wg, "wg0", peers, keys, calls(wg)));
  assert.deepStrictEqual(
    wg.sets.flatMap((c) => c.peers),
    peers.map(({ publicKey, allowedIps, presharedKey, persistentKeepalive }) => ({
      publicKey,
      allowedIps,
      presharedKey,
      persistentKeepalive,
    })),
  );
  assert.deepStrictEqual(
    wg.peers("wg0").map((p) => p.presharedKey),
    peers.map((p) => p.presharedKey),
  );
});

Deno.test("purgePeers reports E2BIG for a single peer too large to split", async () => {
  const [peer] = manyPeers(1);
  const wg = new FakeWg().addInterface("wg0", [peer]).script("set", { kind: "argv-too-long" });
  const outcome = await withKeyDir((keys) => purgePeers(wg, "wg0", [peer], keys, calls(wg)));
  assert.strictEqual((outcome.failure as WgError | null)?.kind, "argv-too-long");
  assert.deepStrictEqual(outcome.attempted.map((p) => p.publicKey), [peer.publicKey]);
  assert.deepStrictEqual(wg.peers("wg0"), [peer], "nothing changed");
});

Deno.test("purgePeers stops at the first failing call and returns what it attempted", async () => {
  const peers = manyPeers(100);
  const wg = new FakeWg().addInterface("wg0", peers).script("set", null, { kind: "fail-after" });
  // At most 30 peers a call, as a repair's limit would have it.
  const outcome = await withKeyDir((keys) =>
    purgePeers(wg, "wg0", peers, keys, { ...calls(wg), maxPeersPerCall: 30 })
  );
  assert.strictEqual((outcome.failure as WgError | null)?.kind, "failed");
  assert.strictEqual(wg.sets.length, 2, "no call after the failing one");
  assert.strictEqual(outcome.attempted.length, 60);
  // The FAKE left the failing call's last peer removed: the caller repairs it.
  assert.strictEqual(wg.peers("wg0").length, 99);
  const after = new Map(wg.peers("wg0").map((p) => [p.publicKey, p]));
  assert.ok(peers.slice(60).every((p) => after.get(p.publicKey)?.endpoint === p.endpoint));
});

Deno.test("purgePeers runs no call once the key directory was replaced, and counts nothing attempted", async () => {
  const peers = manyPeers(4);
  const wg = new FakeWg().addInterface("wg0", peers);
  const outcome = await withKeyDir(async (keys) => {
    // What an attacker with write access to the parent would do (the
    // safe-path rule forbids such a parent; the check is the second guard).
    await Deno.rename(keys.path, `${keys.path}.moved`);
    await Deno.mkdir(keys.path, { mode: 0o700 });
    try {
      return await purgePeers(wg, "wg0", peers, keys, calls(wg));
    } finally {
      await Deno.remove(keys.path);
      await Deno.rename(`${keys.path}.moved`, keys.path);
    }
  });
  assert.match(outcome.failure?.message ?? "", /is no longer the one created/);
  assert.deepStrictEqual(outcome.attempted, []);
  assert.deepStrictEqual(wg.sets, []);
});

Deno.test("purgePeers starts no call once a stop is requested, and counts what it left", async () => {
  const peers = manyPeers(100);
  const wg = new FakeWg({ msPerBlock: 5 }).addInterface("wg0", peers);
  const stop = new AbortController();
  wg.onSet(() => Promise.resolve(stop.abort()));
  const outcome = await withKeyDir((keys) =>
    purgePeers(wg, "wg0", peers, keys, { ...calls(wg), stop: stop.signal })
  );
  assert.strictEqual(outcome.failure, null);
  assert.strictEqual(outcome.attempted.length, FIRST_CALL_PEERS);
  assert.strictEqual(outcome.notAttempted, 100 - FIRST_CALL_PEERS);
});
