/**
 * The linger histogram and the longest sleep in the metrics file: lingers
 * binned at once (only aggregates leave a cycle), added up across cycles
 * and `run`s through the status file like the counters, nothing added by a
 * dry run or a failed cycle; the gauge of the longest sleep for the daemon
 * only.
 */
import assert from "node:assert/strict";
import { renderMetrics } from "../../src/record/metrics.ts";
import {
  LINGER_BUCKETS,
  lingerOf,
  nextStatus,
  type Status,
  summarizeCycle,
} from "../../src/record/status_file.ts";
import { runRecordedCycle } from "../../src/record/recorded_cycle.ts";
import { logger } from "../../src/cli/log.ts";
import { withLogs } from "../support/log_capture.ts";
import { type CycleSpec, metricsAfter, reportWith } from "../support/metrics.ts";

/** The samples of `text` whose name is `name`, as `{labels} value` or ` value`. */
function samples(text: string, name: string): string[] {
  return text.split("\n").filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .map((l) => l.slice(name.length));
}

/** The linger histogram of `iface` in a metrics text: cumulative buckets, sum and count. */
function histogram(text: string, iface: string): { buckets: number[]; sum: number; count: number } {
  const value = (line: string) => Number(line.slice(line.lastIndexOf(" ") + 1));
  const buckets = samples(text, "wg_reinstate_linger_seconds_bucket")
    .filter((l) => l.startsWith(`{interface="${iface}",`)).map(value);
  const [sum] = samples(text, "wg_reinstate_linger_seconds_sum")
    .filter((l) => l.startsWith(`{interface="${iface}"}`)).map(value);
  const [count] = samples(text, "wg_reinstate_linger_seconds_count")
    .filter((l) => l.startsWith(`{interface="${iface}"}`)).map(value);
  return { buckets, sum, count };
}

Deno.test("lingerOf puts each linger in the first bucket whose bound holds it", async (t) => {
  const cases: [number, string][] = [
    [0, "0.25"],
    [0.25, "0.25"],
    [0.251, "0.5"],
    [1, "1"],
    [1.001, "2"],
    [2, "2"],
    [2.001, "5"],
    [300, "300"],
    [300.001, "+Inf"],
    [86_400, "+Inf"],
  ];
  for (const [seconds, le] of cases) {
    await t.step(`${seconds} s: le=${le}`, () => {
      const linger = lingerOf({ report: reportWith({ wg0: [seconds] }) }).get("wg0")!;
      const expected = new Array(LINGER_BUCKETS.length + 1).fill(0);
      expected[le === "+Inf" ? LINGER_BUCKETS.length : LINGER_BUCKETS.indexOf(Number(le))] = 1;
      assert.deepStrictEqual(linger, { buckets: expected, sumSeconds: seconds });
    });
  }
});

Deno.test("nextStatus adds lingers up like the counters: not a dry run's, and afresh after a reboot", async (t) => {
  const record = (s: Status | null, spec: CycleSpec, dryRun: boolean, uptime: number) => {
    const outcome = spec === "failed"
      ? { error: new Error("wg show failed") }
      : { report: reportWith(spec, { dryRun }) };
    return nextStatus(s, summarizeCycle(outcome, 100, 1, dryRun), uptime, lingerOf(outcome));
  };
  const cases: [string, [CycleSpec, dryRun: boolean, uptime: number][], number, number][] = [
    ["one cycle", [[{ wg0: [0.1, 0.7, 40] }, false, 10]], 3, 40.8],
    ["two cycles", [[{ wg0: [0.1] }, false, 10], [{ wg0: [0.2] }, false, 20]], 2, 0.3],
    ["a dry run adds nothing", [[{ wg0: [0.1] }, false, 10], [{ wg0: [9] }, true, 20]], 1, 0.1],
    ["a failed cycle adds nothing", [[{ wg0: [0.1] }, false, 10], ["failed", false, 20]], 1, 0.1],
    ["a reboot restarts it", [[{ wg0: [5] }, false, 50], [{ wg0: [0.5] }, false, 20]], 1, 0.5],
  ];
  for (const [name, cycles, count, sum] of cases) {
    await t.step(name, () => {
      let s: Status | null = null;
      for (const [spec, dryRun, uptime] of cycles) s = record(s, spec, dryRun, uptime);
      const linger = s!.totals.linger.wg0;
      assert.strictEqual(linger.buckets.reduce((a, b) => a + b, 0), count);
      assert.strictEqual(linger.sumSeconds, sum, "added up to the millisecond");
    });
  }
  await t.step("a dry run alone leaves no histogram", () => {
    assert.deepStrictEqual(record(null, { wg0: [1] }, true, 10).totals.linger, {});
  });
});

Deno.test("renderMetrics writes the linger histogram cumulative, with its sum and count", () => {
  const reports = [reportWith({ wg0: [0.1, 0.3, 1.5], wg1: [] }), reportWith({ wg0: [400] })];
  let s: Status | null = null;
  for (const report of reports) {
    s = nextStatus(s, summarizeCycle({ report }, 100, 1, false), 100, lingerOf({ report }));
  }
  const text = renderMetrics(s!);
  assert.ok(text.includes("# TYPE wg_reinstate_linger_seconds histogram\n"));
  assert.deepStrictEqual(samples(text, "wg_reinstate_linger_seconds_bucket").slice(0, 10), [
    '{interface="wg0",le="0.25"} 1',
    '{interface="wg0",le="0.5"} 2',
    '{interface="wg0",le="1"} 2',
    '{interface="wg0",le="2"} 3',
    '{interface="wg0",le="5"} 3',
    '{interface="wg0",le="10"} 3',
    '{interface="wg0",le="30"} 3',
    '{interface="wg0",le="60"} 3',
    '{interface="wg0",le="300"} 3',
    '{interface="wg0",le="+Inf"} 4',
  ]);
  assert.deepStrictEqual(histogram(text, "wg0"), {
    buckets: [1, 2, 2, 3, 3, 3, 3, 3, 3, 4],
    sum: 401.9,
    count: 4,
  });
  // An interface that purged nothing has its histogram at 0: a rate needs a first sample.
  assert.deepStrictEqual(histogram(text, "wg1"), {
    buckets: new Array(10).fill(0),
    sum: 0,
    count: 0,
  });
});

Deno.test("renderMetrics states the longest sleep only when given one (the daemon's)", async (t) => {
  const report = reportWith({ wg0: [] });
  const s = nextStatus(null, summarizeCycle({ report }, 100, 1, false), 100, lingerOf({ report }));
  const cases: [string, number | null, string[]][] = [
    ["run", null, []],
    ["the daemon", 180, [" 180"]],
  ];
  for (const [name, maxSleep, expected] of cases) {
    await t.step(name, () => {
      const text = renderMetrics(s, maxSleep);
      assert.deepStrictEqual(samples(text, "wg_reinstate_max_sleep_seconds"), expected);
      assert.strictEqual(text.includes("# TYPE wg_reinstate_max_sleep_seconds gauge"), !!maxSleep);
    });
  }
});

Deno.test("runRecordedCycle adds each run's lingers to the metrics file through the status file", async (t) => {
  const cases: [string, CycleSpec[], { dryRun?: boolean; maxSleep?: number | null }, {
    count: number;
    sum: number;
    maxSleep: string[];
  }][] = [
    ["three runs", [{ wg0: [0.2] }, { wg0: [0.4, 3] }, { wg0: [] }], {}, {
      count: 3,
      sum: 3.6,
      maxSleep: [],
    }],
    ["a failed run between two", [{ wg0: [0.2] }, "failed", { wg0: [1] }], {}, {
      count: 2,
      sum: 1.2,
      maxSleep: [],
    }],
    ["dry runs", [{ wg0: [0.2] }, { wg0: [1] }], { dryRun: true }, {
      count: 0,
      sum: 0,
      maxSleep: [],
    }],
    ["the daemon's cycles", [{ wg0: [0.2] }, { wg0: [1] }], { maxSleep: 180 }, {
      count: 2,
      sum: 1.2,
      maxSleep: [" 180"],
    }],
  ];
  for (const [name, cycles, options, expected] of cases) {
    await t.step(name, async () => {
      const dir = await Deno.makeTempDir({ prefix: "wr-metrics-" });
      try {
        const text = await metricsAfter(dir, cycles, options);
        const { count, sum } = histogram(text, "wg0");
        // A dry run writes no histogram at all: it purged nothing anywhere.
        assert.deepStrictEqual({ count: count ?? 0, sum: sum ?? 0 }, {
          count: expected.count,
          sum: expected.sum,
        });
        assert.deepStrictEqual(
          samples(text, "wg_reinstate_max_sleep_seconds"),
          expected.maxSleep,
        );
        assert.doesNotMatch(await Deno.readTextFile(`${dir}/status/status.json`), /lingerSeconds/);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

Deno.test("the metrics file says which interface's wg-quick file has SaveConfig = true", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wr-unit-" });
  try {
    const settings = {
      statusFile: `${dir}/status.json`,
      metricsFile: `${dir}/wg-reinstate.prom`,
      dryRun: false,
    };
    const report = reportWith({ wg0: [1], wg1: [] });
    report.interfaces[0].saveConfig = true;
    await withLogs(() =>
      runRecordedCycle(settings, () => Promise.resolve(report), () => 1_800_000_000, logger("t"))
    );
    const text = await Deno.readTextFile(settings.metricsFile);
    assert.deepStrictEqual(samples(text, "wg_reinstate_save_config"), [
      '{interface="wg0"} 1',
      '{interface="wg1"} 0',
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
