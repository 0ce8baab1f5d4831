import assert from "node:assert/strict";
import fc from "fast-check";
import type { Watch } from "../../src/purge/observations.ts";
import {
  deadlineOf,
  type Decision,
  planCycle,
  type PlannedInterface,
  REPLAY_WINDOW_S,
} from "../../src/purge/plan.ts";
import { key, keyArb, peer, peerArb, policy } from "../support/peers.ts";
import { keptCounts, planAll } from "../support/whole_list.ts";

const NOW = 10_000;

Deno.test("planPeer gives each kind of peer its decision and reason", () => {
  const peers = [
    peer({ publicKey: key("a"), latestHandshake: NOW - 181 }),
    peer({ publicKey: key("b"), latestHandshake: NOW - 180 }),
    peer({ publicKey: key("c"), latestHandshake: NOW - 5000, endpoint: null }),
    peer({ publicKey: key("d"), latestHandshake: 0 }),
    peer({ publicKey: key("e"), latestHandshake: NOW - 5000 }),
    peer({ publicKey: key("f"), latestHandshake: NOW - 5000 }),
    peer({ publicKey: key("g"), latestHandshake: NOW + 60 }),
  ];
  const plans = planAll(
    peers,
    NOW,
    policy({ exclude: new Set([key("e")]), configuredEndpoints: new Set([key("f")]) }),
  );
  assert.deepStrictEqual(plans.map((p) => p.decision), [
    { action: "purge", reason: "stale", idleSeconds: 181, lingerSeconds: 0 },
    { action: "keep", reason: "active", idleSeconds: 180 },
    { action: "keep", reason: "no-endpoint", idleSeconds: 5000 },
    { action: "keep", reason: "never-handshaked", idleSeconds: null },
    { action: "keep", reason: "excluded", idleSeconds: 5000 },
    { action: "keep", reason: "configured-endpoint", idleSeconds: 5000 },
    { action: "keep", reason: "handshake-in-future", idleSeconds: -60 },
  ]);
  assert.deepStrictEqual(keptCounts(plans), {
    "active": 1,
    "no-endpoint": 1,
    "never-handshaked": 1,
    "excluded": 1,
    "configured-endpoint": 1,
    "handshake-in-future": 1,
    "observing": 0,
  });
});

Deno.test("planPeer honours the stale-after threshold", () => {
  const p = [peer({ publicKey: key("a"), latestHandshake: NOW - 600 })];
  assert.strictEqual(planAll(p, NOW, policy({ staleAfter: 599 }))[0].decision.action, "purge");
  assert.strictEqual(planAll(p, NOW, policy({ staleAfter: 600 }))[0].decision.action, "keep");
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
  // Daemon mode: since when handshakes are trusted, and which peers it purged itself.
  trustedAfter: fc.integer({ min: 0, max: 2_100_000_000 }),
  purgedMask: fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/** One scenario's inputs to planPeer, and the keys it purges. */
function planScenario(
  s: Scenario,
  staleAfter = s.staleAfter,
  extraExclude: string[] = [],
) {
  const pick = (mask: boolean[]) =>
    new Set(s.peers.filter((_, i) => mask[i]).map((p) => p.publicKey));
  const exclude = new Set([...s.extraKeys, ...pick(s.excludeMask), ...extraExclude]);
  const configured = pick(s.configuredMask);
  const observed: Watch | undefined = s.watched === null ? undefined : {
    trustedAfter: s.trustedAfter,
    watched: new Map(s.peers.map((p, i) => [p.publicKey, s.watched![i]])),
    purgedAgo: new Map([...pick(s.purgedMask)].map((k) => [k, 1])),
  };
  const policy = {
    staleAfter,
    exclude,
    configuredEndpoints: configured,
    configuredWithoutEndpoint: pick(s.knownMask),
    saveConfig: null,
    warnings: [],
  };
  const plans = planAll(s.peers, s.now, policy, observed);
  const purged = new Set(
    plans.filter((p) => p.decision.action === "purge").map((p) => p.peer.publicKey),
  );
  return { plans, exclude, configured, observed, purged, policy };
}

// Properties of the rule, never a second copy of it.
Deno.test("planPeer keeps its promises for any peers and policy", async (t) => {
  const property = (check: (s: Scenario) => void) =>
    fc.assert(fc.property(scenario, check), { numRuns: 1000 });
  await t.step("decides each peer exactly once, in order", () =>
    property((s) => {
      assert.deepStrictEqual(planScenario(s).plans.map((p) => p.peer), s.peers);
    }));
  await t.step(
    "never purges a peer without endpoint, excluded or dialled by this side",
    () =>
      property((s) => {
        const { plans, exclude, configured } = planScenario(s);
        for (const { peer, decision } of plans.filter((p) => p.decision.action === "purge")) {
          assert.notStrictEqual(peer.endpoint, null);
          assert.ok(!exclude.has(peer.publicKey) && !configured.has(peer.publicKey));
          assert.strictEqual(decision.reason, peer.latestHandshake === 0 ? "unconfirmed" : "stale");
        }
      }),
  );
  await t.step("purges as stale only a handshake older than stale-after", () =>
    property((s) => {
      for (const { peer, decision } of planScenario(s).plans) {
        if (decision.action === "purge" && decision.reason === "stale") {
          assert.ok(s.now - peer.latestHandshake > s.staleAfter);
        }
      }
    }));
  await t.step(
    "a one-shot run purges every unprotected endpoint older than stale-after",
    () =>
      property((s) => {
        const { plans, exclude, configured, observed, purged } = planScenario(s);
        if (observed !== undefined) return;
        for (const { peer } of plans) {
          const unprotected = peer.endpoint !== null && !exclude.has(peer.publicKey) &&
            !configured.has(peer.publicKey);
          const old = peer.latestHandshake > 0 && s.now - peer.latestHandshake > s.staleAfter;
          if (unprotected && old) assert.ok(purged.has(peer.publicKey));
        }
      }),
  );
  await t.step(
    "purges an unprotected endpoint exactly from its deadline on",
    () =>
      property((s) => {
        const { plans, exclude, configured, observed, policy } = planScenario(s);
        for (const { peer, decision } of plans) {
          if (peer.endpoint === null || exclude.has(peer.publicKey)) continue;
          if (configured.has(peer.publicKey)) continue;
          const deadline = deadlineOf(peer, s.now, policy, observed);
          const future = peer.latestHandshake > s.now;
          assert.strictEqual(
            decision.action === "purge",
            deadline !== null && !future && s.now >= deadline,
          );
        }
      }),
  );
  await t.step(
    "in the daemon, trusts the age only of a handshake made while it watched",
    () =>
      property((s) => {
        const { plans, observed } = planScenario(s);
        if (observed === undefined) return;
        for (const { peer, decision } of plans) {
          if (decision.action !== "purge" || decision.reason !== "stale") continue;
          if (peer.latestHandshake > s.trustedAfter) continue;
          assert.ok(observed.watched.get(peer.publicKey)! >= s.staleAfter);
        }
      }),
  );
  await t.step(
    "a longer stale-after or one more exclusion never purges more",
    () =>
      property((s) => {
        const base = planScenario(s).purged;
        const longer = planScenario(s, s.staleAfter + 1 + (s.now % 97)).purged;
        const excluded = planScenario(s, s.staleAfter, s.peers.slice(0, 1).map((p) => p.publicKey))
          .purged;
        for (const more of [longer, excluded]) {
          assert.ok([...more].every((k) => base.has(k)));
        }
      }),
  );
});

/** What the daemon watched: trusted after `trustedAfter`, each key watched so long. */
function watch(
  trustedAfter: number,
  watched: [string, number][],
  purgedAgo: [string, number][] = [],
): Watch {
  return { trustedAfter, watched: new Map(watched), purgedAgo: new Map(purgedAgo) };
}

Deno.test("planPeer in the daemon waits to have watched a handshake from before its watch for stale-after", () => {
  const p = [peer({ publicKey: key("a"), latestHandshake: NOW - 5000 })];
  // The watch began after the handshake (a clock step at boot may have aged it).
  const plan = (watched: number) =>
    planAll(p, NOW, policy(), watch(NOW - 60, [[key("a"), watched]]))[0].decision;
  assert.deepStrictEqual(plan(60), { action: "keep", reason: "observing", idleSeconds: 5000 });
  assert.deepStrictEqual(plan(180), {
    action: "purge",
    reason: "stale",
    idleSeconds: 5000,
    lingerSeconds: 0,
  });
});

Deno.test("planPeer in the daemon purges a handshake made while it watched at its deadline", async (t) => {
  // Handshake at NOW - 181, watched since NOW - 1000; its state seen unchanged for 1 s only.
  const p = [peer({ publicKey: key("a"), latestHandshake: NOW - 181 })];
  const cases: [string, number, Decision["action"]][] = [
    ["one second before", NOW - 1, "keep"],
    ["at the deadline", NOW, "purge"],
    ["later", NOW + 30, "purge"],
  ];
  for (const [name, now, action] of cases) {
    await t.step(name, () => {
      const w = watch(NOW - 1000, [[key("a"), 1]]);
      assert.strictEqual(deadlineOf(p[0], now, policy(), w), NOW);
      assert.strictEqual(planAll(p, now, policy(), w)[0].decision.action, action);
    });
  }
});

Deno.test("planPeer purges an unconfirmed endpoint only in daemon mode and only for a known peer", () => {
  const half = peer({ publicKey: key("h"), latestHandshake: 0 });
  const known = policy({ configuredWithoutEndpoint: new Set([key("h")]) });
  assert.strictEqual(planAll([half], NOW, known)[0].decision.reason, "never-handshaked");
  assert.strictEqual(
    planAll([half], NOW, policy(), watch(0, [[key("h"), 999]]))[0].decision.reason,
    "never-handshaked",
  );
  assert.strictEqual(
    planAll([half], NOW, known, watch(0, [[key("h"), REPLAY_WINDOW_S - 1]]))[0].decision.reason,
    "observing",
  );
  assert.deepStrictEqual(planAll([half], NOW, known, watch(0, [[key("h"), 20]]))[0].decision, {
    action: "purge",
    reason: "unconfirmed",
    idleSeconds: 20,
    lingerSeconds: 20 - REPLAY_WINDOW_S,
  });
});

Deno.test("planPeer in the daemon forgets a replayed endpoint on a peer it purged itself", () => {
  const half = peer({ publicKey: key("h"), latestHandshake: 0 });
  const plan = (purgedAgo: [string, number][], watched: number) =>
    planAll([half], NOW, policy(), watch(0, [[key("h"), watched]], purgedAgo))[0].decision;
  assert.strictEqual(plan([], REPLAY_WINDOW_S).reason, "never-handshaked", "not ours");
  assert.strictEqual(plan([[key("h"), 100]], REPLAY_WINDOW_S - 1).reason, "observing");
  assert.strictEqual(plan([[key("h"), 100]], REPLAY_WINDOW_S).reason, "unconfirmed");
});

const planned = (name: string, handshakes: number[], now = 10_000): PlannedInterface => {
  const peers = handshakes.map((h, i) => peer({ publicKey: key("abcdef"[i]), latestHandshake: h }));
  const plans = planAll(peers, now, policy());
  return {
    iface: { name, publicKey: null, listenPort: 1, fwmark: null },
    now,
    checked: plans.length,
    kept: keptCounts(plans),
    plans,
    nextDeadline: null,
    saveConfig: null,
    warnings: [],
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
