/** The daemon's watch: the clocks, each peer's state, and the peers it purged. */
import assert from "node:assert/strict";
import { PeerObservations, STEP_TOLERANCE_S, type Watch } from "../../src/purge/observations.ts";
import { key, peer } from "../support/peers.ts";
import { observeRead } from "../support/whole_list.ts";

const WALL = 1_800_000_000;

Deno.test("PeerObservations trusts handshakes from its first read on, and anew after a forward step only", async (t) => {
  // Each case: the wall and monotonic readings of two reads, and the trust after the second.
  const cases: [string, number, number, number][] = [
    ["the clocks go together", WALL + 30, 130, WALL],
    ["NTP slews", WALL + 30.5, 130, WALL],
    ["the wall clock steps forward", WALL + 30 + STEP_TOLERANCE_S + 1, 130, WALL + 32],
    ["the wall clock steps back", WALL + 10, 130, WALL],
    ["the monotonic clock runs faster (a test's clock)", WALL + 1, 300, WALL],
  ];
  for (const [name, wall, monotonic, trusted] of cases) {
    await t.step(name, () => {
      const o = new PeerObservations();
      o.clocks(WALL, 100);
      assert.strictEqual(observeRead(o, "wg0", [], 100).trustedAfter, WALL);
      o.clocks(wall, monotonic);
      assert.strictEqual(observeRead(o, "wg0", [], monotonic).trustedAfter, trusted);
    });
  }
});

Deno.test("PeerObservations watches each state until it changes, and forgets gone peers", () => {
  const o = new PeerObservations();
  const a = peer({ publicKey: key("a"), latestHandshake: WALL - 10 });
  const b = peer({ publicKey: key("b"), latestHandshake: WALL - 10 });
  observeRead(o, "wg0", [a, b], 100);
  const later = observeRead(o, "wg0", [a, { ...b, latestHandshake: WALL + 5 }], 130);
  assert.deepStrictEqual(
    [later.watched.get(a.publicKey), later.watched.get(b.publicKey)],
    [30, 0],
  );
  observeRead(o, "wg0", [b], 140);
  assert.strictEqual(observeRead(o, "wg0", [a, b], 150).watched.get(a.publicKey), 0, "seen anew");
});

Deno.test("PeerObservations watches a peer it purged for a replay until its next handshake", () => {
  const o = new PeerObservations();
  const a = peer({ publicKey: key("a"), latestHandshake: WALL - 300 });
  observeRead(o, "wg0", [a], 100);
  o.purged("wg0", [a.publicKey], 101);
  const readded = { ...a, latestHandshake: 0, endpoint: null };
  const ago = (w: Watch) => [w.purgedAgo.get(a.publicKey), [...w.purgedAgo.values()]];
  assert.deepStrictEqual(ago(observeRead(o, "wg0", [readded], 110)), [9, [9]]);
  // A replayed initiation: an endpoint, still no handshake.
  const replayed = { ...readded, endpoint: "198.51.100.7:4000" };
  assert.deepStrictEqual(ago(observeRead(o, "wg0", [replayed], 115)), [14, [14]]);
  // The client's own handshake ends the watch.
  assert.deepStrictEqual(ago(observeRead(o, "wg0", [{ ...a, latestHandshake: WALL }], 120)), [
    undefined,
    [],
  ]);
  assert.deepStrictEqual(ago(observeRead(o, "wg0", [readded], 130)), [undefined, []]);
});

Deno.test("PeerObservations keeps nothing for a peer without an endpoint, and starts its watch when it gains one", () => {
  const o = new PeerObservations();
  const a = peer({ publicKey: key("a"), latestHandshake: WALL - 10, endpoint: null });
  observeRead(o, "wg0", [a], 100);
  assert.strictEqual(observeRead(o, "wg0", [a], 130).watched.has(a.publicKey), false);
  const back = { ...a, endpoint: "198.51.100.7:4000" };
  assert.strictEqual(observeRead(o, "wg0", [back], 140).watched.get(a.publicKey), 0);
  assert.strictEqual(observeRead(o, "wg0", [back], 150).watched.get(a.publicKey), 10);
});
