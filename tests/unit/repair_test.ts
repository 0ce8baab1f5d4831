/**
 * verifyAndRepair against the FAKE in-memory `wg`: every branch of verify and
 * repair (a lost re-add, a changed peer, a failing re-read, a failing first
 * repair, a repair that never holds) in virtual time.
 */
import assert from "node:assert/strict";
import { purgePeers } from "../../src/purge/apply.ts";
import { SetPace } from "../../src/purge/pace.ts";
import { REPAIR_ATTEMPTS, verifyAndRepair } from "../../src/purge/repair.ts";
import { cycleLines, emptyOutcome } from "../../src/purge/report.ts";
import type { WgPeer } from "../../src/wg/dump.ts";
import { FakeWg } from "../support/fake_wg.ts";
import { withKeyDir } from "../support/key_dir.ts";
import { configsByKey, manyPeers } from "../support/peers.ts";
import { renderLines } from "../support/log_capture.ts";

/**
 * Purges `peers` on a fake, then verifies and repairs; returns the outcome,
 * the log lines the cycle would write for it, and the waits.
 */
async function purgeThenRepair(wg: FakeWg, peers: WgPeer[]) {
  const sleeps: number[] = [];
  const outcome = await withKeyDir(async (keys) => {
    const pace = new SetPace(10_000);
    const applied = await purgePeers(wg, "wg0", peers, keys, { pace });
    return await verifyAndRepair(wg, "wg0", applied.attempted, keys, {
      pace,
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
      retryDelayMs: 1000,
    });
  });
  const cycle = {
    dryRun: false,
    busy: [],
    refusal: null,
    missing: [],
    interfaces: [{ ...emptyOutcome("wg0", []), repair: outcome }],
    durationMs: 0,
  };
  const lines = await renderLines(cycleLines(cycle, null));
  return { outcome, lines, sleeps };
}

Deno.test("verifyAndRepair does nothing more when every peer came back as it was", async () => {
  const peers = manyPeers(5);
  const wg = new FakeWg().addInterface("wg0", peers);
  const r = await purgeThenRepair(wg, peers);
  assert.deepStrictEqual(r.outcome, { readError: null, findings: [], attempts: [], repaired: [] });
  assert.deepStrictEqual(wg.calls.map((c) => c.op), ["set", "show"]);
});

Deno.test("verifyAndRepair re-adds a peer whose re-add wg lost (FAKE)", async () => {
  const peers = manyPeers(5);
  const wg = new FakeWg().addInterface("wg0", peers).script("set", { kind: "lose-readd" });
  const r = await purgeThenRepair(wg, peers);
  assert.deepStrictEqual(r.outcome.findings.map((f) => f.expected.publicKey), [
    peers[0].publicKey,
  ]);
  assert.deepStrictEqual(r.outcome.repaired, [{
    publicKey: peers[0].publicKey,
    problems: ["missing"],
    restored: true,
    intact: false,
  }]);
  assert.deepStrictEqual(
    configsByKey(wg.peers("wg0")),
    configsByKey(peers),
  );
  assert.ok(r.lines.some((l) => /did not come back as it was \(missing\); re-adding it/.test(l)));
  assert.ok(r.lines.some((l) => /\[WRN\].* restored$/.test(l)));
});

Deno.test("verifyAndRepair restores a peer that came back changed (FAKE)", async () => {
  const peers = manyPeers(3);
  const wg = new FakeWg().addInterface("wg0", peers).script("set", { kind: "corrupt-readd" });
  const r = await purgeThenRepair(wg, peers);
  assert.deepStrictEqual(r.outcome.repaired.map((x) => x.problems), [["allowed-ips"]]);
  assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers));
});

Deno.test("verifyAndRepair re-adds every attempted peer when the re-read fails (FAKE)", async () => {
  const peers = manyPeers(4);
  const wg = new FakeWg().addInterface("wg0", peers).script("show", { kind: "fail" });
  const r = await purgeThenRepair(wg, peers);
  assert.strictEqual(r.outcome.findings.length, 4);
  assert.ok(r.outcome.repaired.every((x) => x.restored && x.problems[0] === "unknown"));
  assert.match(r.outcome.readError ?? "", /^could not re-read to verify: wg show failed/);
  assert.ok(r.lines.some((l) => /\[ERR\].* wg0: could not re-read to verify/.test(l)));
  assert.strictEqual(wg.sets.length, 2, "the purge and one repair");
  assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers));
});

Deno.test("verifyAndRepair tries again after the delay when the first repair fails (FAKE)", async () => {
  const peers = manyPeers(4);
  const wg = new FakeWg().addInterface("wg0", peers)
    .script("set", { kind: "fail-after" }, { kind: "fail" });
  const r = await purgeThenRepair(wg, peers);
  assert.deepStrictEqual(r.sleeps, [1000]);
  assert.strictEqual(wg.sets.length, 3);
  assert.deepStrictEqual(r.outcome.attempts.map((a) => a.failure), [
    "wg set wg0 failed (FAKE)",
    null,
  ]);
  assert.deepStrictEqual(r.outcome.repaired.map((x) => x.restored), [true]);
  assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers));
});

Deno.test("verifyAndRepair reports a peer it could not restore, after every attempt (FAKE)", async () => {
  const peers = manyPeers(2);
  const failures = Array.from({ length: REPAIR_ATTEMPTS }, () => ({ kind: "fail" as const }));
  const wg = new FakeWg().addInterface("wg0", peers)
    .script("set", { kind: "fail-after" }, ...failures);
  const r = await purgeThenRepair(wg, peers);
  assert.strictEqual(wg.sets.length, 1 + REPAIR_ATTEMPTS);
  assert.deepStrictEqual(r.outcome.repaired.map((x) => [x.problems, x.restored, x.intact]), [[
    ["missing"],
    false,
    false,
  ]]);
  assert.ok(r.lines.some((l) => /\[ERR\].*could NOT be restored \(missing\)/.test(l)));
  assert.strictEqual(wg.peers("wg0").length, 1);
});

Deno.test("verifyAndRepair says a peer is whole when every wg set failed before changing it (FAKE)", async () => {
  const peers = manyPeers(2);
  const failures = Array.from({ length: 1 + REPAIR_ATTEMPTS }, () => ({ kind: "fail" as const }));
  const wg = new FakeWg().addInterface("wg0", peers).script("set", ...failures);
  const r = await purgeThenRepair(wg, peers);
  assert.strictEqual(wg.sets.length, 1 + REPAIR_ATTEMPTS);
  assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers));
  assert.deepStrictEqual(r.outcome.repaired.map((x) => [x.problems, x.restored, x.intact]), [
    [["endpoint-kept"], false, true],
    [["endpoint-kept"], false, true],
  ]);
  assert.ok(
    !r.lines.some((l) => /could NOT be restored|did not come back/.test(l)),
    r.lines.join("\n"),
  );
  assert.strictEqual(
    r.lines.filter((l) => /\[WRN\].*is as it was, endpoint included: wg set failed before/.test(l))
      .length,
    2,
  );
});
