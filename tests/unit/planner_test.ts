/** The planner a cycle runs while `wg` prints: the same decisions as planning the whole list, less kept. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ParseError } from "../../src/common/errors.ts";
import { PeerObservations } from "../../src/purge/observations.ts";
import { InterfacePlanner } from "../../src/purge/planner.ts";
import { key, peer, peerArb, policy } from "../support/peers.ts";
import { keptCounts, nextDeadlineOf, observeRead, planAll } from "../support/whole_list.ts";

const NOW = 1_800_000_000;

const peersArb = fc.uniqueArray(
  peerArb.map((p) => ({
    ...p,
    // Handshakes around now, so that every decision occurs.
    latestHandshake: p.latestHandshake === 0 ? 0 : NOW - (p.latestHandshake % 400) + 10,
  })),
  { selector: (p) => p.publicKey, maxLength: 40 },
);

Deno.test("InterfacePlanner decides as planning the whole list does, keeping the peers to purge and the counts", () => {
  fc.assert(
    fc.property(peersArb, fc.boolean(), (peers, keepAll) => {
      const p = policy({ staleAfter: 180 });
      const planner = new InterfacePlanner("wg0", p, () => NOW, undefined, keepAll);
      peers.forEach((peer, i) => planner.add(peer, i + 2));
      const whole = planAll(peers, NOW, p);
      assert.strictEqual(planner.checked, peers.length);
      assert.deepStrictEqual(planner.kept, keptCounts(whole));
      assert.deepStrictEqual(
        planner.plans,
        keepAll ? whole : whole.filter((x) => x.decision.action === "purge"),
      );
      assert.strictEqual(planner.nextDeadline(NOW), null, "no deadline without a watch");
    }),
  );
});

Deno.test("InterfacePlanner finds the daemon's next deadline as the whole list gives it", () => {
  fc.assert(
    fc.property(peersArb, fc.integer({ min: 0, max: 400 }), (peers, watchedFor) => {
      const p = policy({ staleAfter: 180 });
      // Two daemons that saw the same reads: one plans the whole list, one as it streams.
      const [whole, streamed] = [new PeerObservations(), new PeerObservations()];
      for (const o of [whole, streamed]) {
        o.clocks(NOW - 1000, 0);
        observeRead(o, "wg0", peers, 0);
        o.clocks(NOW - 1000 + watchedFor, watchedFor);
      }
      const w = observeRead(whole, "wg0", peers, watchedFor);
      const watch = streamed.watch("wg0", watchedFor);
      const planner = new InterfacePlanner("wg0", p, () => NOW, watch);
      peers.forEach((peer, i) => planner.add(peer, i + 2));
      watch.end();
      assert.strictEqual(
        planner.nextDeadline(NOW),
        nextDeadlineOf(planAll(peers, NOW, p, w), NOW, p, w),
      );
    }),
  );
});

Deno.test("InterfacePlanner refuses a peer to purge listed twice, and keeps no key of the others", () => {
  const stale = peer({ publicKey: key("a"), latestHandshake: NOW - 900 });
  const active = peer({ publicKey: key("b"), latestHandshake: NOW - 9 });
  const planner = new InterfacePlanner("wg0", policy(), () => NOW);
  planner.add(active, 2);
  planner.add(active, 3);
  planner.add(stale, 4);
  assert.throws(() => planner.add(stale, 5), (e: unknown) => {
    assert.ok(e instanceof ParseError);
    assert.strictEqual(e.message, "wg output:5: public-key: peer listed twice on wg0");
    return true;
  });
});
