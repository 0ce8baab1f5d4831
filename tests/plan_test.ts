import assert from "node:assert/strict";
import fc from "fast-check";
import { countKeptByReason, planPurge, type Policy } from "../src/purge/plan.ts";
import { key, keyArb, peer, peerArb } from "./support/peers.ts";

const NOW = 10_000;
const policy = (over: Partial<Policy> = {}): Policy => ({
  staleAfter: 180,
  exclude: new Set(),
  configuredEndpoints: new Set(),
  ...over,
});

Deno.test("planPurge gives each kind of peer its decision and reason", () => {
  const peers = [
    peer({ publicKey: key("a"), latestHandshake: NOW - 181 }),
    peer({ publicKey: key("b"), latestHandshake: NOW - 180 }),
    peer({ publicKey: key("c"), latestHandshake: NOW - 5000, endpoint: null }),
    peer({ publicKey: key("d"), latestHandshake: 0 }),
    peer({ publicKey: key("e"), latestHandshake: NOW - 5000 }),
    peer({ publicKey: key("f"), latestHandshake: NOW - 5000 }),
    peer({ publicKey: key("g"), latestHandshake: NOW + 60 }),
  ];
  const plans = planPurge(
    peers,
    NOW,
    policy({ exclude: new Set([key("e")]), configuredEndpoints: new Set([key("f")]) }),
  );
  assert.deepStrictEqual(plans.map((p) => p.decision), [
    { action: "purge", reason: "stale", idleSeconds: 181 },
    { action: "keep", reason: "active", idleSeconds: 180 },
    { action: "keep", reason: "no-endpoint", idleSeconds: 5000 },
    { action: "keep", reason: "never-handshaked", idleSeconds: null },
    { action: "keep", reason: "excluded", idleSeconds: 5000 },
    { action: "keep", reason: "configured-endpoint", idleSeconds: 5000 },
    { action: "keep", reason: "handshake-in-future", idleSeconds: -60 },
  ]);
  assert.deepStrictEqual(countKeptByReason(plans), {
    "active": 1,
    "no-endpoint": 1,
    "never-handshaked": 1,
    "excluded": 1,
    "configured-endpoint": 1,
    "handshake-in-future": 1,
  });
});

Deno.test("planPurge honours the stale-after threshold", () => {
  const p = [peer({ publicKey: key("a"), latestHandshake: NOW - 600 })];
  assert.strictEqual(planPurge(p, NOW, policy({ staleAfter: 599 }))[0].decision.action, "purge");
  assert.strictEqual(planPurge(p, NOW, policy({ staleAfter: 600 }))[0].decision.action, "keep");
});

const scenario = fc.record({
  peers: fc.uniqueArray(peerArb, { selector: (p) => p.publicKey, maxLength: 30 }),
  now: fc.integer({ min: 0, max: 2_100_000_000 }),
  staleAfter: fc.integer({ min: 1, max: 100_000 }),
  excludeMask: fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
  configuredMask: fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
  extraKeys: fc.array(keyArb, { maxLength: 3 }),
});

Deno.test("planPurge never purges an unprotectable peer and decides each peer once", () => {
  fc.assert(
    fc.property(scenario, (s) => {
      const exclude = new Set([
        ...s.extraKeys,
        ...s.peers.filter((_, i) => s.excludeMask[i]).map((p) => p.publicKey),
      ]);
      const configured = new Set(
        s.peers.filter((_, i) => s.configuredMask[i]).map((p) => p.publicKey),
      );
      const plans = planPurge(s.peers, s.now, {
        staleAfter: s.staleAfter,
        exclude,
        configuredEndpoints: configured,
      });
      // Exactly one decision per peer, in order.
      assert.deepStrictEqual(plans.map((p) => p.peer), s.peers);
      for (const { peer, decision } of plans) {
        if (decision.action !== "purge") continue;
        assert.notStrictEqual(peer.endpoint, null);
        assert.ok(!exclude.has(peer.publicKey));
        assert.ok(!configured.has(peer.publicKey));
        assert.ok(peer.latestHandshake > 0);
        assert.ok(s.now - peer.latestHandshake > s.staleAfter);
      }
      // And every peer that fits the rule is purged.
      const expected = s.peers.filter((p) =>
        p.endpoint !== null && p.latestHandshake > 0 && s.now - p.latestHandshake > s.staleAfter &&
        !exclude.has(p.publicKey) && !configured.has(p.publicKey)
      );
      assert.deepStrictEqual(
        plans.filter((p) => p.decision.action === "purge").map((p) => p.peer),
        expected,
      );
    }),
    { numRuns: 1000 },
  );
});
