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
import { withJournal } from "../support/key_dir.ts";
import { configsByKey, manyPeers } from "../support/peers.ts";
import { renderLines } from "../support/log_capture.ts";

/**
 * Purges `peers` on a fake, then verifies and repairs; returns the outcome,
 * the log lines the cycle would write for it, and the waits.
 */
async function purgeThenRepair(wg: FakeWg, peers: WgPeer[]) {
  const sleeps: number[] = [];
  const outcome = await withJournal(async (journal, reopen) => {
    const pace = new SetPace(10_000);
    const applied = await purgePeers(wg, "wg0", peers, journal, { pace });
    const unsettled = new Set(applied.unsettled.map((p) => p.publicKey));
    return await verifyAndRepair(wg, "wg0", applied.attempted, unsettled, {
      pace,
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
      retryDelayMs: 1000,
      reopen,
    });
  });
  const cycle = {
    dryRun: false,
    recovered: [],
    busy: [],
    refusal: null,
    missing: [],
    interfaces: [{ ...emptyOutcome("wg0"), repair: outcome }],
    durationMs: 0,
    nextDeadline: null,
  };
  const lines = await renderLines(cycleLines(cycle, null));
  return { outcome, lines, sleeps };
}

const keys = (peers: readonly WgPeer[]) => peers.map((p) => p.publicKey);

Deno.test("verifyAndRepair does nothing more when every peer came back as it was", async () => {
  const peers = manyPeers(5);
  const wg = new FakeWg().addInterface("wg0", peers);
  const r = await purgeThenRepair(wg, peers);
  assert.deepStrictEqual(r.outcome, {
    readError: null,
    findings: [],
    leftAlone: [],
    attempts: [],
    repaired: [],
  });
  assert.deepStrictEqual(wg.calls.map((c) => c.op), ["set", "show"]);
});

Deno.test("verifyAndRepair re-adds every peer of a call that failed part-way (FAKE)", async () => {
  const peers = manyPeers(5);
  const wg = new FakeWg().addInterface("wg0", peers).script("set", { kind: "fail-after" });
  const r = await purgeThenRepair(wg, peers);
  // The last peer was removed and not re-added; the others look whole, but
  // their call did not finish, so they are re-added too.
  assert.deepStrictEqual(r.outcome.findings.map((f) => f.problems), [
    ...peers.slice(0, 4).map(() => ["unsettled"]),
    ["missing"],
  ]);
  assert.ok(r.outcome.repaired.every((x) => x.restored));
  assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers));
  assert.ok(r.lines.some((l) => /did not come back as it was \(missing\); re-adding it/.test(l)));
  assert.ok(r.lines.some((l) => /\[WRN\].* restored$/.test(l)));
});

Deno.test("verifyAndRepair restores what a cut call left of a peer (FAKE)", async () => {
  const peers = manyPeers(3);
  const wg = new FakeWg().addInterface("wg0", peers)
    .script("set", { kind: "fail-after", blocks: 5, damaged: true });
  const r = await purgeThenRepair(wg, peers);
  const damaged = r.outcome.repaired.find((x) => x.publicKey === peers[2].publicKey);
  assert.deepStrictEqual(damaged?.problems.includes("allowed-ips"), true);
  assert.ok(r.outcome.repaired.every((x) => x.restored));
  assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers));
});

Deno.test("verifyAndRepair leaves a peer as someone else left it after a call that exited 0", async (t) => {
  for (
    const [fault, change] of [
      ["lose-readd", "removed"],
      ["corrupt-readd", "changed"],
    ] as const
  ) {
    await t.step(`${fault}: ${change}`, async () => {
      const peers = manyPeers(3);
      const wg = new FakeWg().addInterface("wg0", peers).script("set", { kind: fault });
      const r = await purgeThenRepair(wg, peers);
      assert.deepStrictEqual(r.outcome.leftAlone, [{ publicKey: peers[0].publicKey, change }]);
      assert.deepStrictEqual(r.outcome.findings, []);
      assert.strictEqual(wg.sets.length, 1, "no repair");
      assert.ok(r.lines.some((l) => new RegExp(`\\[INF\\].*${change} by someone else`).test(l)));
    });
  }
});

Deno.test("verifyAndRepair re-adds only the peers of a failed call when the re-read fails (FAKE)", async () => {
  const peers = manyPeers(4);
  const wg = new FakeWg().addInterface("wg0", peers)
    .script("set", { kind: "fail-after" })
    .script("show", { kind: "fail" });
  const r = await purgeThenRepair(wg, peers);
  assert.strictEqual(r.outcome.findings.length, 4);
  assert.ok(r.outcome.repaired.every((x) => x.restored && x.problems[0] === "unknown"));
  assert.match(r.outcome.readError ?? "", /^could not re-read to verify: wg show failed/);
  assert.ok(r.lines.some((l) => /\[ERR\].* wg0: could not re-read to verify/.test(l)));
  assert.strictEqual(wg.sets.length, 2, "the purge and one repair");
  assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers));

  const whole = new FakeWg().addInterface("wg0", peers).script("show", { kind: "fail" });
  const settled = await purgeThenRepair(whole, peers);
  assert.deepStrictEqual(settled.outcome.findings, [], "a call that exited 0 needs none");
  assert.strictEqual(whole.sets.length, 1);
});

Deno.test("verifyAndRepair repairs in a fresh key directory (FAKE)", async () => {
  const peers = manyPeers(4);
  const wg = new FakeWg().addInterface("wg0", peers).script("set", { kind: "fail-after" });
  await purgeThenRepair(wg, peers);
  const [purge, ...repairs] = wg.keyDirs;
  assert.ok(repairs.length > 0 && repairs.every((dir) => dir !== purge), String(wg.keyDirs));
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
  assert.deepStrictEqual(keys(r.outcome.findings.map((f) => f.expected)), keys(peers));
  assert.ok(r.outcome.repaired.every((x) => x.restored));
  assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers));
});

Deno.test("verifyAndRepair reports a peer it could not restore, after every attempt (FAKE)", async () => {
  const peers = manyPeers(2);
  const failures = Array.from({ length: REPAIR_ATTEMPTS }, () => ({ kind: "fail" as const }));
  const wg = new FakeWg().addInterface("wg0", peers)
    .script("set", { kind: "fail-after" }, ...failures);
  const r = await purgeThenRepair(wg, peers);
  assert.strictEqual(wg.sets.length, 1 + REPAIR_ATTEMPTS);
  assert.deepStrictEqual(r.outcome.repaired.map((x) => [x.problems, x.restored, x.intact]), [
    [["unsettled"], false, false],
    [["missing"], false, false],
  ]);
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
