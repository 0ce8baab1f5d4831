/** When the daemon reads next: deadlines, replay watches, its cost and its longest sleep. */
import assert from "node:assert/strict";
import type { Watch } from "../../src/purge/observations.ts";
import {
  BUDGET_PERIOD_S,
  CycleBudget,
  MAX_CPU_SHARE,
  MIN_SLEEP_S,
  REPLAY_POLL_S,
  sleepSeconds,
} from "../../src/purge/schedule.ts";
import type { WgPeer } from "../../src/wg/dump.ts";
import { key, peer, policy } from "../support/peers.ts";
import { nextDeadlineOf, planAll } from "../support/whole_list.ts";

const NOW = 1_800_000_000;
const S = 180;

function watch(over: Partial<Watch> = {}): Watch {
  return { trustedAfter: NOW - 1000, watched: new Map(), purgedAgo: new Map(), ...over };
}

function next(peers: WgPeer[], w = watch(), p = policy()): number {
  return nextDeadlineOf(planAll(peers, NOW, p, w), NOW, p, w);
}

Deno.test("the daemon's next deadline is the earliest moment a decision may change", async (t) => {
  const a = key("a");
  const cases: [string, () => number, number][] = [
    ["no peer: stale-after and a second from now", () => next([]), NOW + S + 1],
    [
      "the earliest of two live peers' deadlines",
      () =>
        next([
          peer({ publicKey: a, latestHandshake: NOW - 100 }),
          peer({ publicKey: key("b"), latestHandshake: NOW - 170 }),
        ]),
      NOW - 170 + S + 1,
    ],
    [
      "a handshake from before the watch: when the watch has lasted stale-after",
      () =>
        next(
          [peer({ publicKey: a, latestHandshake: NOW - 5000 })],
          watch({ trustedAfter: NOW - 60, watched: new Map([[a, 60]]) }),
        ),
      NOW + S - 60,
    ],
    [
      "a peer to purge now: nothing (the cycle adds a look for replays if the purge is done)",
      () => next([peer({ publicKey: a, latestHandshake: NOW - 500 })]),
      NOW + S + 1,
    ],
    [
      "a peer purged within stale-after, without endpoint: a look for replays",
      () =>
        next(
          [peer({ publicKey: a, latestHandshake: 0, endpoint: null })],
          watch({ purgedAgo: new Map([[a, 30]]) }),
        ),
      NOW + REPLAY_POLL_S,
    ],
    [
      "a peer purged longer ago than stale-after: no look",
      () =>
        next(
          [peer({ publicKey: a, latestHandshake: 0, endpoint: null })],
          watch({ purgedAgo: new Map([[a, S]]) }),
        ),
      NOW + S + 1,
    ],
    [
      "a replayed endpoint on a peer it purged: when it has stood 15 s",
      () =>
        next(
          [peer({ publicKey: a, latestHandshake: 0 })],
          watch({ purgedAgo: new Map([[a, 500]]), watched: new Map([[a, 4]]) }),
        ),
      NOW + 11,
    ],
    [
      "an excluded peer: none",
      () =>
        next(
          [peer({ publicKey: a, latestHandshake: NOW - 100 })],
          watch(),
          policy({ exclude: new Set([a]) }),
        ),
      NOW + S + 1,
    ],
    [
      "a peer without endpoint, not watched: none",
      () => next([peer({ publicKey: a, latestHandshake: NOW - 100, endpoint: null })]),
      NOW + S + 1,
    ],
  ];
  for (const [name, got, expected] of cases) {
    await t.step(name, () => assert.strictEqual(got(), expected));
  }
});

Deno.test("sleepSeconds sleeps to the deadline, within what the budget and its longest sleep allow", async (t) => {
  const cases: [string, number | null, number, number, number][] = [
    ["a deadline in 10 s", NOW + 10, 0, S, 10.02],
    ["a deadline passed", NOW - 3, 0, S, MIN_SLEEP_S],
    ["the budget spent: close deadlines taken together", NOW + 1, 7, S, 7],
    ["a far deadline: the longest sleep", NOW + 1000, 0, 60, 60],
    ["the budget spent for longer than the longest sleep", NOW + 1, 90, 60, 60],
    ["no deadline (a failed cycle)", null, 0, 60, 60],
  ];
  for (const [name, deadline, budgetWait, longest, expected] of cases) {
    await t.step(name, () => {
      assert.ok(Math.abs(sleepSeconds(deadline, NOW, budgetWait, longest) - expected) < 1e-9);
    });
  }
});

Deno.test("CycleBudget lets cycles crowd until 2% of its period is spent, then spaces them", () => {
  const budget = new CycleBudget();
  const full = MAX_CPU_SHARE * BUDGET_PERIOD_S;
  let t = 0;
  // Cycles of 0.5 s, one a second: each fits at once while the bucket lasts.
  let crowded = 0;
  while (budget.waitFor(0.5, t) === 0) {
    budget.spend(0.5, t);
    t += 1;
    crowded++;
  }
  // The bucket, refilled by 2% of each second, held this many.
  assert.strictEqual(crowded, Math.floor((full - 0.5) / (0.5 - MAX_CPU_SHARE)) + 1);
  // Now each cycle waits for its cost at 2%: 0.5 s of cycle per 25 s.
  const wait = budget.waitFor(0.5, t);
  assert.ok(wait > 0 && wait <= 0.5 / MAX_CPU_SHARE, String(wait));
  budget.spend(0.5, t + wait);
  assert.ok(Math.abs(budget.waitFor(0.5, t + wait) - 0.5 / MAX_CPU_SHARE) < 1e-9);
  // Idle for the whole period: full again, never more.
  assert.strictEqual(budget.waitFor(full, t + 10 * BUDGET_PERIOD_S), 0);
  assert.ok(budget.waitFor(full + 0.1, t + 20 * BUDGET_PERIOD_S) > 0);
});
