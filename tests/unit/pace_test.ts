import assert from "node:assert/strict";
import { FIRST_CALL_PEERS, LIMIT_SLACK, SetPace, TARGET_CALL_MS } from "../../src/purge/pace.ts";

Deno.test("SetPace starts small, then sizes calls by the cost it measured", () => {
  const pace = new SetPace(10_000);
  assert.strictEqual(pace.peersPerCall(), FIRST_CALL_PEERS);
  assert.strictEqual(pace.limitMs(FIRST_CALL_PEERS), 10_000, "unknown cost: the base limit");
  pace.record(32, 32 * 33); // a PREEMPT_RT kernel: 33 ms per peer
  assert.strictEqual(pace.peersPerCall(), Math.floor(TARGET_CALL_MS / 33));
  assert.strictEqual(pace.limitMs(60), 10_000 + LIMIT_SLACK * 33 * 60);
  pace.record(60, 30); // a fast one: 0.5 ms per peer
  assert.strictEqual(pace.peersPerCall(), 4000);
  pace.record(10, 0); // a coarse clock never sizes without bound
  assert.strictEqual(pace.peersPerCall(), TARGET_CALL_MS / 0.01);
});

Deno.test("SetPace gives a call a limit that grows with its expected duration", () => {
  const pace = new SetPace(5_000);
  pace.record(10, 1000);
  assert.ok(pace.limitMs(20) > pace.limitMs(10));
  assert.ok(pace.limitMs(1) >= 5_000, "never below the base limit");
});
