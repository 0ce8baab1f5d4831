/**
 * The report and the log lines, each made in one place from a cycle's
 * outcome: which error an interface reports, and which lines say what
 * happened, in what order.
 */
import assert from "node:assert/strict";
import type { RepairOutcome } from "../../src/purge/repair.ts";
import {
  cycleLines,
  type CycleOutcome,
  cycleReport,
  emptyOutcome,
  type InterfaceOutcome,
} from "../../src/purge/report.ts";
import { renderLines } from "../support/log_capture.ts";
import { key, peer } from "../support/peers.ts";

function cycleOf(...interfaces: InterfaceOutcome[]): CycleOutcome {
  return {
    dryRun: false,
    recovered: [],
    busy: [],
    refusal: null,
    missing: [],
    interfaces,
    durationMs: 7,
    nextDeadline: null,
  };
}

function repairOf(over: Partial<RepairOutcome>): RepairOutcome {
  return { readError: null, findings: [], leftAlone: [], attempts: [], repaired: [], ...over };
}

const wg0 = (over: Partial<InterfaceOutcome>) => ({ ...emptyOutcome("wg0"), ...over });

Deno.test("cycleReport gives an interface its first error, in the order they happened", async (t) => {
  const cases: [string, Partial<InterfaceOutcome>, string | null][] = [
    ["none", {}, null],
    [
      "a failure before wg changed anything",
      { failure: { message: "cannot write", unchanged: true } },
      "cannot write; nothing was changed",
    ],
    [
      "a failed call, then a failed re-read",
      {
        failure: { message: "wg set failed", unchanged: false },
        repair: repairOf({ readError: "could not re-read" }),
      },
      "wg set failed",
    ],
    [
      "a failed repair call before its failed re-read",
      {
        repair: repairOf({
          attempts: [{ failure: null, readError: null }, { failure: "second", readError: "read" }],
        }),
      },
      "second",
    ],
    ["a key directory not removed", { cleanupError: "cannot remove" }, "cannot remove"],
  ];
  for (const [name, over, error] of cases) {
    await t.step(name, () => {
      const report = cycleReport(cycleOf(wg0(over)));
      assert.strictEqual(report.interfaces[0].error, error);
      assert.strictEqual(report.ok, error === null);
    });
  }
  await t.step("a refused cycle", () => {
    const report = cycleReport({ ...cycleOf(wg0({ cleanupError: "x" })), refusal: "late" });
    assert.strictEqual(report.interfaces[0].error, "refused: late");
  });
});

Deno.test("cycleReport lists missing interfaces first, each with its error", () => {
  const report = cycleReport({ ...cycleOf(wg0({})), missing: ["wgX"] });
  assert.deepStrictEqual(report.interfaces.map((i) => [i.name, i.error]), [
    ["wgX", "WireGuard interface wgX does not exist (see: wg show interfaces)"],
    ["wg0", null],
  ]);
  assert.strictEqual(report.ok, false);
});

Deno.test("cycleLines says what a cycle did, in the order it did it", async () => {
  const lost = peer({ publicKey: key("a") });
  const whole = peer({ publicKey: key("b") });
  const cycle: CycleOutcome = {
    ...cycleOf(wg0({
      checked: 2,
      notAttempted: 3,
      failure: { message: "wg set failed", unchanged: false },
      repair: repairOf({
        readError: "could not re-read to verify: gone",
        findings: [
          { expected: lost, problems: ["missing"] },
          { expected: whole, problems: ["endpoint-kept"] },
        ],
        attempts: [{ failure: "again", readError: "could not re-read to verify: still gone" }],
        repaired: [
          { publicKey: key("a"), problems: ["missing"], restored: false, intact: false },
          { publicKey: key("b"), problems: ["endpoint-kept"], restored: false, intact: true },
        ],
      }),
      cleanupError: "cannot remove the key directory",
    })),
    busy: ["wg9"],
    missing: ["wgX"],
  };
  const lines = await renderLines(cycleLines(cycle, cycleReport(cycle)));
  const expected = [
    /\[WRN\] .*: wg9: another wg-reinstate is purging it; skipped$/,
    /\[ERR\] .*: wgX: WireGuard interface wgX does not exist/,
    /\[WRN\] .*: wg0: stopping on request; 3 stale peers left for the next cycle$/,
    /\[ERR\] .*: wg0: wg set failed; verifying every peer it touched$/,
    /\[ERR\] .*: wg0: could not re-read to verify: gone$/,
    /\[ERR\] .*: peer aaaaaaaa… on wg0 did not come back as it was \(missing\); re-adding it$/,
    /\[WRN\] .*: peer bbbbbbbb… on wg0 was not purged \(it keeps its endpoint\); again$/,
    /\[ERR\] .*: wg0: could not re-read to verify: still gone$/,
    /\[ERR\] .*: peer aaaaaaaa… on wg0 could NOT be restored \(missing\)$/,
    /\[WRN\] .*: peer bbbbbbbb… on wg0 is as it was, endpoint included: wg set failed before/,
    /\[ERR\] .*: wg0: cannot remove the key directory$/,
    /\[INF\] .*: wg0: 2 peers checked, 0 purged, kept none$/,
    /\[INF\] .*: cycle FAILED in 7 ms: 2 peers checked, 0 purged$/,
  ];
  assert.strictEqual(lines.length, expected.length, lines.join("\n"));
  lines.forEach((line, i) => assert.match(line, expected[i]));
});

Deno.test("cycleLines names purged peers at debug level, never with a time, and counts them at info", async (t) => {
  const purged = [
    { publicKey: key("a"), reason: "stale" as const, idleSeconds: 600, lingerSeconds: 420 },
    { publicKey: key("u"), reason: "unconfirmed" as const, idleSeconds: 200, lingerSeconds: 20 },
  ];
  for (const dryRun of [false, true]) {
    await t.step(dryRun ? "dry run" : "real", async () => {
      const cycle = { ...cycleOf(wg0({ purged })), dryRun };
      const lines = await renderLines(cycleLines(cycle, cycleReport(cycle)));
      const verb = dryRun ? "would purge" : "purged";
      assert.match(lines[0], new RegExp(`\\[DBG\\] .*${verb} peer aaaaaaaa… on wg0: stale$`));
      assert.match(
        lines[1],
        new RegExp(
          `\\[DBG\\] .*${verb} peer uuuuuuuu… on wg0: endpoint from an unconfirmed initiation$`,
        ),
      );
      const counted = dryRun ? "would be purged" : "purged";
      assert.match(
        lines[2],
        new RegExp(`\\[INF\\] .*2 ${counted} \\(stale=1 unconfirmed=1\\), kept`),
      );
      assert.match(lines[3], new RegExp(`\\[INF\\] .*2 ${counted}$`));
      // No line holds a peer's time, nor any number but the counts.
      assert.ok(lines.every((l) => !/600|200/.test(l)), lines.join("\n"));
    });
  }
});

Deno.test("cycleLines says what a cycle stopped on an error did, with no summary", async () => {
  const cycle = { ...cycleOf(wg0({ cleanupError: "x" })), busy: ["wg9"] };
  const lines = await renderLines(cycleLines(cycle, null));
  assert.strictEqual(lines.length, 3, lines.join("\n"));
  assert.ok(!lines.some((l) => /cycle (done|FAILED)/.test(l)));
});

Deno.test("cycleLines warns, each cycle, of an interface whose wg-quick file has SaveConfig = true", async () => {
  const cycle = cycleOf({ ...wg0({}), saveConfig: "/etc/wireguard/wg0.conf" }, wg0({}));
  const lines = await renderLines(cycleLines(cycle, cycleReport(cycle)));
  const warnings = lines.filter((l) => /\[WRN\]/.test(l));
  assert.strictEqual(warnings.length, 1, lines.join("\n"));
  assert.match(warnings[0], /: wg0: \/etc\/wireguard\/wg0\.conf has SaveConfig = true: /);
  assert.deepStrictEqual(cycleReport(cycle).interfaces.map((r) => r.saveConfig), [true, false]);
});
