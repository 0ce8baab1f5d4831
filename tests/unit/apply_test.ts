/**
 * purgePeers against the FAKE in-memory `wg`: calls sized by the pace, the
 * stop at the first failing call, and what counts as attempted. How a call
 * becomes argv (chunks, E2BIG, key files) is tested in replace_test.ts.
 */
import assert from "node:assert/strict";
import { WgError } from "../../src/common/errors.ts";
import { purgePeers } from "../../src/purge/apply.ts";
import { parseJournal, type PurgeJournal } from "../../src/purge/journal.ts";
import { FIRST_CALL_PEERS, SetPace } from "../../src/purge/pace.ts";
import { FakeWg } from "../support/fake_wg.ts";
import { withJournal } from "../support/key_dir.ts";
import { configsByKey, manyPeers } from "../support/peers.ts";

const calls = (wg: FakeWg) => ({ pace: new SetPace(10_000), clockMs: () => wg.elapsedMs });

Deno.test("purgePeers removes and re-adds every peer, in calls sized by the pace", async () => {
  const peers = manyPeers(100);
  const wg = new FakeWg({ msPerBlock: 5 }).addInterface("wg0", peers);
  const outcome = await withJournal((keys) => purgePeers(wg, "wg0", peers, keys, calls(wg)));
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
  await withJournal((keys) => purgePeers(wg, "wg0", peers, keys, calls(wg)));
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

Deno.test("purgePeers skips a peer too large for argv and purges the rest", async () => {
  const peers = manyPeers(3);
  const wg = new FakeWg().addInterface("wg0", peers)
    .script("set", { kind: "argv-too-long" }, null);
  const outcome = await withJournal((keys) =>
    purgePeers(wg, "wg0", peers, keys, { ...calls(wg), maxPeersPerCall: 1 })
  );
  assert.strictEqual(outcome.failure, null);
  assert.deepStrictEqual(outcome.tooLarge.map((p) => p.publicKey), [peers[0].publicKey]);
  assert.deepStrictEqual(outcome.attempted.map((p) => p.publicKey), [
    peers[1].publicKey,
    peers[2].publicKey,
  ]);
  assert.deepStrictEqual(wg.peers("wg0")[0], peers[0], "the large one is as it was");
});

Deno.test("purgePeers stops at the first failing call and returns what it attempted", async () => {
  const peers = manyPeers(100);
  const wg = new FakeWg().addInterface("wg0", peers).script("set", null, { kind: "fail-after" });
  // At most 30 peers a call, as a repair's limit would have it.
  const outcome = await withJournal((keys) =>
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
  const outcome = await withJournal(async (keys) => {
    // What an attacker with write access to the parent would do (the
    // safe-path rule forbids such a parent; the check is the second guard).
    const path = keys.keys.path;
    await Deno.rename(path, `${path}.moved`);
    await Deno.mkdir(path, { mode: 0o700 });
    try {
      return await purgePeers(wg, "wg0", peers, keys, calls(wg));
    } finally {
      await Deno.remove(path, { recursive: true });
      await Deno.rename(`${path}.moved`, path);
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
  const outcome = await withJournal((keys) =>
    purgePeers(wg, "wg0", peers, keys, { ...calls(wg), stop: stop.signal })
  );
  assert.strictEqual(outcome.failure, null);
  assert.strictEqual(outcome.attempted.length, FIRST_CALL_PEERS);
  assert.strictEqual(outcome.notAttempted, 100 - FIRST_CALL_PEERS);
});

Deno.test("purgePeers records each call in the journal before it starts, and marks it done after", async (t) => {
  const journalOf = (journal: PurgeJournal) =>
    parseJournal(Deno.readTextFileSync(`${journal.keys.path}/journal`))!;
  await t.step("every call done: nothing unsettled", async () => {
    const peers = manyPeers(50);
    const wg = new FakeWg({ msPerBlock: 5 }).addInterface("wg0", peers);
    await withJournal(async (journal) => {
      await purgePeers(wg, "wg0", peers, journal, calls(wg));
      assert.deepStrictEqual(journalOf(journal).unsettled, []);
      assert.strictEqual(wg.sets.length, 2);
    });
  });
  await t.step("a failed call: its peers stay unsettled, as listed before it ran", async () => {
    const peers = manyPeers(40);
    const wg = new FakeWg().addInterface("wg0", peers).script("set", null, { kind: "fail-after" });
    await withJournal(async (journal) => {
      await purgePeers(wg, "wg0", peers, journal, { ...calls(wg), maxPeersPerCall: 10 });
      const { unsettled } = journalOf(journal);
      assert.deepStrictEqual(unsettled.map((p) => p.publicKey), keysOf(peers.slice(10, 20)));
      assert.deepStrictEqual(
        unsettled.map((p) => [p.allowedIps, p.keepalive, p.psk !== null]),
        peers.slice(10, 20).map((p) => [
          p.allowedIps,
          p.persistentKeepalive,
          p.presharedKey !== null,
        ]),
      );
      const text = Deno.readTextFileSync(`${journal.keys.path}/journal`);
      for (const p of peers) {
        if (p.presharedKey !== null) assert.ok(!text.includes(p.presharedKey), "no key in it");
        if (p.endpoint !== null) assert.ok(!text.includes(p.endpoint), "no endpoint in it");
      }
      assert.doesNotMatch(text, /handshake|endpoint|time/i, "no field for a time or an address");
    });
  });
});

Deno.test("purgePeers leaves out of a call every peer the re-read before it says to leave", async () => {
  const peers = manyPeers(6);
  const wg = new FakeWg().addInterface("wg0", peers);
  const outcome = await withJournal((journal) =>
    purgePeers(wg, "wg0", peers, journal, calls(wg), (batch) =>
      Promise.resolve({
        keep: batch.filter((p) => p !== peers[2]),
        leftAlone: [{ publicKey: peers[2].publicKey, change: "removed" as const }],
      }))
  );
  assert.deepStrictEqual(wg.sets.flatMap((c) => c.peers.map((p) => p.publicKey)), [
    ...keysOf(peers.slice(0, 2)),
    ...keysOf(peers.slice(3)),
  ]);
  assert.deepStrictEqual(outcome.leftAlone.map((l) => l.change), ["removed"]);
});

Deno.test("purgePeers stops, handing nothing over, when the re-read fails", async () => {
  const peers = manyPeers(4);
  const wg = new FakeWg().addInterface("wg0", peers);
  const outcome = await withJournal((journal) =>
    purgePeers(
      wg,
      "wg0",
      peers,
      journal,
      calls(wg),
      () => Promise.reject(new WgError("failed", "wg show failed (FAKE)")),
    )
  );
  assert.match(outcome.failure?.message ?? "", /wg show failed/);
  assert.deepStrictEqual(wg.sets, []);
});

function keysOf(peers: readonly { publicKey: string }[]): string[] {
  return peers.map((p) => p.publicKey);
}
