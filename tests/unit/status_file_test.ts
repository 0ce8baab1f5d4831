/**
 * The status file and the metrics file: counts only, never a key, an
 * address or a per-peer time; counters that add up across runs and restart
 * after a reboot; atomic replacement in a safe directory.
 */
import assert from "node:assert/strict";
import { renderMetrics } from "../../src/record/metrics.ts";
import { NotRegularFileError } from "../../src/config/read_file.ts";
import {
  type CycleEnd,
  lingerOf,
  nextStatus,
  parseStatus,
  readStatus,
  recordCycle,
  type Status,
  summarizeCycle,
} from "../../src/record/status_file.ts";
import { ParseError } from "../../src/common/errors.ts";
import { type CycleReport, noneKept } from "../../src/purge/mod.ts";
import { key } from "../support/peers.ts";

const KEY_A = key("A");
const KEY_B = key("B");

function report(over: Partial<CycleReport> = {}): CycleReport {
  const kept = noneKept();
  kept.active = 2;
  kept.excluded = 1;
  return {
    dryRun: false,
    busy: ["wg9"],
    durationMs: 1234,
    ok: false,
    nextDeadline: null,
    uneventful: false,
    interfaces: [{
      name: "wg0",
      checked: 6,
      purged: [
        { publicKey: KEY_A, reason: "stale", idleSeconds: 4000, lingerSeconds: 3820 },
        { publicKey: KEY_B, reason: "unconfirmed", idleSeconds: 200, lingerSeconds: 20 },
      ],
      kept,
      repaired: [
        { publicKey: KEY_B, problems: ["missing"], restored: false, intact: false },
        // Whole: every wg set failed before changing it. Repaired, but nothing lost.
        { publicKey: KEY_A, problems: ["endpoint-kept"], restored: false, intact: true },
      ],
      error: `wg set wg0 failed for ${KEY_A.slice(0, 8)}… at 198.51.100.4:51820 key ${KEY_B}`,
      stoppedEarly: 0,
      saveConfig: false,
    }],
    ...over,
  };
}

Deno.test("summarizeCycle keeps counts and no key, address or per-peer time", () => {
  const last = summarizeCycle({ report: report() }, 1_800_000_000, 1.5, false);
  const text = JSON.stringify(nextStatus(null, last, 100));
  assert.ok(!text.includes(KEY_A.slice(0, 8)) && !text.includes(KEY_B.slice(0, 8)), text);
  assert.doesNotMatch(text, /198\.51\.100\.4|51820/);
  assert.doesNotMatch(text, /idle|4000|200\b/);
  assert.deepStrictEqual(last.interfaces[0], {
    name: "wg0",
    checked: 6,
    purged: { stale: 1, unconfirmed: 1 },
    kept: keptWith({ active: 2, excluded: 1 }),
    repaired: 2,
    notRestored: 1,
    stoppedEarly: 0,
    saveConfig: false,
    error: "wg set wg0 failed for (a peer) at redacted-ipv4:* key (a peer)",
  });
  assert.strictEqual(last.result, "failed");
  assert.strictEqual(last.durationSeconds, 1.234);
  assert.deepStrictEqual(last.busy, ["wg9"]);
});

function keptWith(over: Record<string, number>): Record<string, number> {
  return { ...noneKept(), ...over };
}

Deno.test("nextStatus adds up cycles and purges, and restarts after a reboot", () => {
  const outcomes: CycleEnd[] = [
    { report: report({ ok: true }) },
    { report: report({ ok: true, dryRun: true }) },
    { error: new Error(`no ${KEY_A}`) },
  ];
  const [ok, dry, threw] = outcomes.map((o, i) =>
    summarizeCycle(o, 100 * (i + 1), 1, "report" in o && o.report.dryRun)
  );
  let s = nextStatus(null, ok, 100, lingerOf(outcomes[0]));
  s = nextStatus(s, dry, 160, lingerOf(outcomes[1]));
  s = nextStatus(s, threw, 220, lingerOf(outcomes[2]));
  assert.deepStrictEqual(s.totals, {
    since: 100,
    cycles: { ok: 2, failed: 1 },
    purged: { wg0: 2 }, // the dry run purged nothing
    repaired: { wg0: 4 },
    notRestored: { wg0: 2 },
    // Lingers of 3820 s (+Inf) and 20 s (the 30 s bucket); the dry run's are not added.
    linger: { wg0: { buckets: [0, 0, 0, 0, 0, 0, 1, 0, 0, 1], sumSeconds: 3840 } },
  });
  assert.strictEqual(s.lastCycle.error, "no (a peer)");
  assert.deepStrictEqual(s.lastCycle.interfaces, []);
  // An uptime below the last one: the system rebooted since.
  const rebooted = nextStatus(s, ok, 50);
  assert.deepStrictEqual(rebooted.totals.cycles, { ok: 1, failed: 0 });
  assert.strictEqual(rebooted.totals.since, 100);
});

Deno.test("parseStatus names the field that does not fit", () => {
  const good = nextStatus(null, summarizeCycle({ report: report() }, 1, 1, false), 100);
  assert.deepStrictEqual(parseStatus(JSON.stringify(good), "s.json"), good);
  const bad = structuredClone(good) as unknown as { totals: { cycles: { ok: unknown } } };
  bad.totals.cycles.ok = -1;
  assert.throws(() => parseStatus(JSON.stringify(bad), "s.json"), (e: unknown) => {
    assert.ok(e instanceof ParseError);
    assert.strictEqual(e.message, "s.json:1: totals.cycles.ok: must be at least 0");
    return true;
  });
  assert.throws(() => parseStatus("{", "s.json"), /s\.json:1: not JSON/);
});

Deno.test("parseStatus reads a file of format 1 as one whose new counters are 0, and counting goes on", () => {
  // The totals as the previous version wrote them (docs/monitoring.md's sample).
  const v1 = {
    format: 1,
    uptime: 4213,
    lastCycle: summarizeCycle({ report: report({ ok: true }) }, 1_795_935_178.639, 1, false),
    totals: {
      since: 1_795_935_178.566,
      cycles: { ok: 2, failed: 0 },
      purged: { wr25f7s: 3 },
      repaired: { wr25f7s: 0 },
    },
  };
  const read = parseStatus(JSON.stringify(v1), "s.json");
  assert.strictEqual(read.format, 2);
  assert.deepStrictEqual(read.totals, { ...v1.totals, notRestored: {}, linger: {} });
  const outcome = { report: report({ ok: true }) };
  const next = nextStatus(
    read,
    summarizeCycle(outcome, 1_795_935_200, 1, false),
    4300,
    lingerOf(outcome),
  );
  assert.deepStrictEqual(next.totals.cycles, { ok: 3, failed: 0 });
  assert.deepStrictEqual(next.totals.purged, { wr25f7s: 3, wg0: 2 });
  assert.strictEqual(next.totals.since, v1.totals.since);
  // A file of format 1 with a field of format 2 is neither.
  const mixed = { ...v1, totals: { ...v1.totals, notRestored: {} } };
  assert.throws(() => parseStatus(JSON.stringify(mixed), "s.json"), /totals: unknown setting/);
});

Deno.test("parseStatus refuses a linger histogram of other buckets than this version's", async (t) => {
  const outcome = { report: report() };
  const good = nextStatus(null, summarizeCycle(outcome, 1, 1, false), 100, lingerOf(outcome));
  const cases: [string, unknown, RegExp][] = [
    ["a bucket fewer", { buckets: [0, 0, 0, 0, 0, 0, 1, 0, 1], sumSeconds: 3840 }, /buckets/],
    ["a negative count", { buckets: [-1, 0, 0, 0, 0, 0, 1, 0, 0, 1], sumSeconds: 3840 }, /0/],
    ["a negative sum", { buckets: [0, 0, 0, 0, 0, 0, 1, 0, 0, 1], sumSeconds: -1 }, /sumSeconds/],
    ["a field this version does not write", {
      buckets: [0, 0, 0, 0, 0, 0, 1, 0, 0, 1],
      sumSeconds: 1,
      max: 3,
    }, /wg0/],
  ];
  for (const [name, linger, message] of cases) {
    await t.step(name, () => {
      const bad = { ...good, totals: { ...good.totals, linger: { wg0: linger } } };
      assert.throws(() => parseStatus(JSON.stringify(bad), "s.json"), (e: unknown) => {
        assert.ok(e instanceof ParseError);
        assert.match(e.message, /^s\.json:1: totals\.linger\.wg0/);
        assert.match(e.message, message);
        return true;
      });
    });
  }
});

Deno.test("recordCycle replaces the file atomically and starts afresh from a bad one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wr-status-" });
  try {
    const path = `${dir}/status.json`;
    const last = summarizeCycle({ report: report({ ok: true }) }, 50, 1, false);
    const first = await recordCycle(path, last, 100);
    assert.strictEqual(first.warning, null);
    const second = await recordCycle(path, last, 100);
    assert.deepStrictEqual(second.status.totals.cycles, { ok: 2, failed: 0 });
    assert.deepStrictEqual(parseStatus(await Deno.readTextFile(path), path), second.status);
    assert.strictEqual((await Deno.stat(path)).mode! & 0o777, 0o644);
    // No temporary file is left beside it; the lock file stays (see recordCycle).
    assert.deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      ".status.json.lock",
      "status.json",
    ]);
    // Concurrent writers (a cron run and a daemon) lose no count.
    await Promise.all(Array.from({ length: 8 }, () => recordCycle(path, last, 100)));
    assert.deepStrictEqual(parseStatus(await Deno.readTextFile(path), path).totals.cycles, {
      ok: 10,
      failed: 0,
    });
    await Deno.writeTextFile(path, '{"format": 3}');
    const third = await recordCycle(path, last, 100);
    assert.match(third.warning!, /status\.json:1: format: .*; counters start again/);
    assert.deepStrictEqual(third.status.totals.cycles, { ok: 1, failed: 0 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("renderMetrics writes every family with interface, decision and reason labels only", () => {
  let s: Status = nextStatus(
    null,
    summarizeCycle({ report: report() }, 1_800_000_000, 1, false),
    100,
  );
  s = nextStatus(s, summarizeCycle({ report: report({ ok: true }) }, 1_800_000_060, 1, false), 100);
  const text = renderMetrics(s);
  for (
    const line of [
      'wg_reinstate_purged_peers_total{interface="wg0"} 4',
      'wg_reinstate_repaired_peers_total{interface="wg0"} 4',
      'wg_reinstate_unrestored_peers_total{interface="wg0"} 2',
      'wg_reinstate_linger_seconds_count{interface="wg0"} 0',
      'wg_reinstate_cycles_total{result="ok"} 1',
      'wg_reinstate_cycles_total{result="failed"} 1',
      "wg_reinstate_last_cycle_timestamp_seconds 1800000060",
      "wg_reinstate_last_cycle_duration_seconds 1.234",
      "wg_reinstate_last_cycle_success 1",
      'wg_reinstate_peers{interface="wg0",decision="purge",reason="stale"} 1',
      'wg_reinstate_peers{interface="wg0",decision="keep",reason="active"} 2',
      "# TYPE wg_reinstate_purged_peers_total counter",
      "# TYPE wg_reinstate_peers gauge",
    ]
  ) assert.ok(text.split("\n").includes(line), `${line}\n${text}`);
  const labels = [...text.matchAll(/(\w+)="/g)].map((m) => m[1]);
  assert.deepStrictEqual([...new Set(labels)].sort(), [
    "decision",
    "interface",
    "le",
    "reason",
    "result",
  ]);
  assert.ok(!text.includes(KEY_A.slice(0, 8)));
});

Deno.test("nextStatus and renderMetrics count an interface named like an Object property as any other", async (t) => {
  for (const name of ["constructor", "toString", "hasOwnProperty", "__proto__"]) {
    await t.step(name, () => {
      const named = (over: Partial<CycleReport>) =>
        report({ ...over, interfaces: report().interfaces.map((i) => ({ ...i, name })) });
      let s = nextStatus(null, summarizeCycle({ report: named({}) }, 100, 1, false), 100);
      s = nextStatus(s, summarizeCycle({ report: named({ ok: true }) }, 160, 1, false), 100);
      const text = JSON.stringify(s);
      assert.deepStrictEqual(JSON.parse(text).totals, {
        since: 100,
        cycles: { ok: 1, failed: 1 },
        purged: { [name]: 4 },
        repaired: { [name]: 4 },
        notRestored: { [name]: 2 },
        linger: { [name]: { buckets: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0], sumSeconds: 0 } },
      });
      const metrics = renderMetrics(s);
      assert.ok(metrics.includes(`wg_reinstate_purged_peers_total{interface="${name}"} 4\n`));
      assert.ok(metrics.includes(`wg_reinstate_repaired_peers_total{interface="${name}"} 4\n`));
    });
  }
});

Deno.test("parseStatus reads back the counts of an interface named constructor", () => {
  const named = report({
    interfaces: report().interfaces.map((i) => ({ ...i, name: "constructor" })),
  });
  const s = nextStatus(null, summarizeCycle({ report: named }, 100, 1, false), 100);
  const again = parseStatus(JSON.stringify(s), "s.json");
  assert.deepStrictEqual(again.totals.purged, { constructor: 2 });
  const next = nextStatus(again, summarizeCycle({ report: named }, 160, 1, false), 100);
  assert.deepStrictEqual(JSON.parse(JSON.stringify(next.totals.purged)), { constructor: 4 });
});

Deno.test("readStatus refuses a FIFO at the status file's path without waiting for a writer", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wr-status-" });
  const fifo = `${dir}/status.json`;
  try {
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.strictEqual(made.code, 0);
    const reading = readStatus(fifo).then((status) => ({ status }), (error) => ({ error }));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<"hung">((resolve) => {
      timer = setTimeout(() => resolve("hung"), 5_000);
    });
    const first = await Promise.race([reading, hung]);
    clearTimeout(timer);
    if (first === "hung") {
      // A writer ends the wait of a reader that opened the FIFO.
      (await Deno.open(fifo, { write: true })).close();
      await reading;
      assert.fail("readStatus waited for a writer");
    }
    assert.ok("error" in first && first.error instanceof NotRegularFileError, String(first));
    assert.strictEqual(first.error.message, "is a FIFO, not a regular file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
