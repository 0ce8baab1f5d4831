import assert from "node:assert/strict";
import fc from "fast-check";
import {
  countKeptByReason,
  planCycle,
  type PlannedInterface,
  planPurge,
} from "../../src/purge/plan.ts";
import { key, keyArb, peer, peerArb, policy } from "../support/peers.ts";

const NOW = 10_000;

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
    "observing": 0,
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
  knownMask: fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
  extraKeys: fc.array(keyArb, { maxLength: 3 }),
  // Daemon mode: seconds each peer's state was watched; null for a one-shot run.
  watched: fc.option(
    fc.array(fc.integer({ min: 0, max: 200_000 }), { minLength: 30, maxLength: 30 }),
    { nil: null },
  ),
});

Deno.test("planPurge never purges an unprotectable peer and decides each peer once", () => {
  fc.assert(
    fc.property(scenario, (s) => {
      const pick = (mask: boolean[]) =>
        new Set(s.peers.filter((_, i) => mask[i]).map((p) => p.publicKey));
      const exclude = new Set([...s.extraKeys, ...pick(s.excludeMask)]);
      const configured = pick(s.configuredMask);
      const known = pick(s.knownMask);
      const observed = s.watched === null
        ? undefined
        : new Map(s.peers.map((p, i) => [p.publicKey, s.watched![i]]));
      const plans = planPurge(s.peers, s.now, {
        staleAfter: s.staleAfter,
        exclude,
        configuredEndpoints: configured,
        configuredWithoutEndpoint: known,
      }, observed);
      // Exactly one decision per peer, in order.
      assert.deepStrictEqual(plans.map((p) => p.peer), s.peers);
      const expected = s.peers.filter((p) => {
        if (p.endpoint === null || exclude.has(p.publicKey) || configured.has(p.publicKey)) {
          return false;
        }
        const watchedLongEnough = observed === undefined ||
          observed.get(p.publicKey)! >= s.staleAfter;
        if (p.latestHandshake === 0) {
          return observed !== undefined && known.has(p.publicKey) && watchedLongEnough;
        }
        return s.now - p.latestHandshake > s.staleAfter && watchedLongEnough;
      });
      for (const { peer, decision } of plans) {
        if (decision.action !== "purge") continue;
        // Never a peer without an endpoint, an excluded or a configured-endpoint peer.
        assert.notStrictEqual(peer.endpoint, null);
        assert.ok(!exclude.has(peer.publicKey));
        assert.ok(!configured.has(peer.publicKey));
        assert.strictEqual(decision.reason, peer.latestHandshake === 0 ? "unconfirmed" : "stale");
      }
      // And exactly the peers that fit the rule are purged.
      assert.deepStrictEqual(
        plans.filter((p) => p.decision.action === "purge").map((p) => p.peer),
        expected,
      );
    }),
    { numRuns: 2000 },
  );
});

Deno.test("planPurge in daemon mode waits until it has watched a handshake for stale-after", () => {
  const p = [peer({ publicKey: key("a"), latestHandshake: NOW - 5000 })];
  const plan = (watched: number) =>
    planPurge(p, NOW, policy(), new Map([[key("a"), watched]]))[0].decision;
  // The wall clock says 5000 s, but the daemon has only watched it for 60 s (a clock step at boot).
  assert.deepStrictEqual(plan(60), { action: "keep", reason: "observing", idleSeconds: 5000 });
  assert.deepStrictEqual(plan(180), { action: "purge", reason: "stale", idleSeconds: 5000 });
});

Deno.test("planPurge purges an unconfirmed endpoint only in daemon mode and only for a known peer", () => {
  const half = peer({ publicKey: key("h"), latestHandshake: 0 });
  const known = policy({ configuredWithoutEndpoint: new Set([key("h")]) });
  assert.strictEqual(planPurge([half], NOW, known)[0].decision.reason, "never-handshaked");
  assert.strictEqual(
    planPurge([half], NOW, policy(), new Map([[key("h"), 999]]))[0].decision.reason,
    "never-handshaked",
  );
  assert.strictEqual(
    planPurge([half], NOW, known, new Map([[key("h"), 100]]))[0].decision.reason,
    "observing",
  );
  assert.deepStrictEqual(planPurge([half], NOW, known, new Map([[key("h"), 200]]))[0].decision, {
    action: "purge",
    reason: "unconfirmed",
    idleSeconds: 200,
  });
});

const planned = (name: string, handshakes: number[], now = 10_000): PlannedInterface => {
  const peers = handshakes.map((h, i) => peer({ publicKey: key("abcdef"[i]), latestHandshake: h }));
  return {
    iface: { name, publicKey: null, listenPort: 1, fwmark: null, peers },
    now,
    plans: planPurge(peers, now, policy()),
  };
};

Deno.test("planCycle names the requested interfaces that were not read", () => {
  const plan = planCycle([planned("wg0", [1])], ["wg0", "wg9", "wg9"], false);
  assert.deepStrictEqual(plan.missing, ["wg9"]);
  assert.deepStrictEqual(planCycle([planned("wg0", [1])], "all", false).missing, []);
});

Deno.test("planCycle refuses a one-shot cycle with a handshake in the future, not the daemon's", () => {
  const interfaces = [planned("wg0", [1]), planned("wg1", [20_000])];
  assert.strictEqual(
    planCycle(interfaces, "all", false).refusal,
    "a latest handshake lies in the future",
  );
  assert.strictEqual(planCycle(interfaces, "all", true).refusal, null);
  assert.strictEqual(planCycle([planned("wg0", [1])], "all", false).refusal, null);
});
