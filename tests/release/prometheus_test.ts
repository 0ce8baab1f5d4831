/**
 * The Prometheus side, with Debian's `promtool` (package `prometheus`): the
 * alerting rules of docs/prometheus/ load and fire on the cases of
 * prometheus_alerts_test.yml and no others; the metrics file the tool writes
 * (recorded by the real code from cycle reports) passes `promtool check
 * metrics`, and each linger histogram in it is cumulative and agrees with
 * its count, its sum and the lingers it was made from; every metric the
 * rules read is one the tool writes. No root needed.
 */
import assert from "node:assert/strict";
import { LINGER_BUCKETS } from "../../src/record/status_file.ts";
import { sh } from "../harness/sh.ts";
import { type CycleSpec, metricsAfter } from "../support/metrics.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const RULES = `${ROOT}docs/prometheus/wg-reinstate-alerts.yml`;
const RULE_TESTS = `${ROOT}tests/release/prometheus_alerts_test.yml`;

/** promtool, or a failure that says where it comes from: these tests are never skipped. */
async function promtool(args: string[], stdin?: string) {
  const found = await sh(["bash", "-c", "command -v promtool"], { allowFail: true });
  assert.strictEqual(
    found.code,
    0,
    "promtool is missing: it comes with Debian's prometheus package " +
      "(bash scripts/dev.sh deps test installs it)",
  );
  return await sh(["promtool", ...args], { stdin, allowFail: true });
}

/** One sample of the exposition format: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a metrics text (the tool's own: no escapes in its label values here). */
function parse(text: string): Sample[] {
  return text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).map((line) => {
    const m = line.match(/^(\w+)(?:\{(.*)\})? (\S+)$/);
    assert.ok(m, `not a sample line: ${line}`);
    const labels = Object.fromEntries(
      [...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]),
    );
    return { name: m[1], labels, value: Number(m[3]) };
  });
}

Deno.test("alerting rules pass promtool check rules and fire on exactly their test cases", async () => {
  const check = await promtool(["check", "rules", RULES]);
  assert.strictEqual(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /SUCCESS: 5 rules found/);
  const test = await promtool(["test", "rules", RULE_TESTS]);
  assert.strictEqual(test.code, 0, test.stdout + test.stderr);
  assert.match(test.stdout, /SUCCESS/);
});

Deno.test("metrics file passes promtool check metrics, its linger histograms cumulative and consistent", async (t) => {
  const cases: [string, CycleSpec[], { dryRun?: boolean; maxSleep?: number | null }][] = [
    ["one run, nothing purged", [{ wg0: [] }], {}],
    ["one run, a linger on each bound", [{ wg0: [0, ...LINGER_BUCKETS] }], {}],
    ["runs across interfaces, one failed", [
      { wg0: [0.1, 0.3], wg1: [1.5] },
      "failed",
      { wg0: [7, 45], wg1: [] },
      { wg1: [900, 0.01] },
    ], {}],
    ["the daemon's cycles", [{ wg0: [0.4] }, { wg0: [0.6, 1.2] }], { maxSleep: 180 }],
    ["dry runs", [{ wg0: [0.4] }, { wg0: [3] }], { dryRun: true }],
    ["an interface named like an Object property", [{ constructor: [0.2, 2.5] }], {}],
  ];
  for (const [name, cycles, options] of cases) {
    await t.step(name, async () => {
      const dir = await Deno.makeTempDir({ prefix: "wr-prom-" });
      try {
        const text = await metricsAfter(dir, cycles, options);
        const lint = await promtool(["check", "metrics"], text);
        assert.strictEqual(lint.code, 0, lint.stdout + lint.stderr);
        assert.strictEqual(lint.stdout + lint.stderr, "", "no lint problem");

        const samples = parse(text);
        const of = (suffix: string, iface: string) =>
          samples.filter((s) =>
            s.name === `wg_reinstate_linger_seconds${suffix}` && s.labels.interface === iface
          );
        // What the histograms must say: every linger of every cycle that purged for real.
        const lingers = new Map<string, number[]>();
        for (const cycle of cycles) {
          if (cycle === "failed" || options.dryRun) continue;
          for (const [iface, seconds] of Object.entries(cycle)) {
            lingers.set(iface, [...(lingers.get(iface) ?? []), ...seconds]);
          }
        }
        const interfaces = [
          ...new Set(
            samples.filter((s) => s.name.startsWith("wg_reinstate_linger_seconds_"))
              .map((s) => s.labels.interface),
          ),
        ];
        assert.deepStrictEqual(interfaces.sort(), [...lingers.keys()].sort());
        for (const [iface, seconds] of lingers) {
          const buckets = of("_bucket", iface);
          const bounds = [...LINGER_BUCKETS, Infinity];
          assert.deepStrictEqual(
            buckets.map((b) => b.labels.le === "+Inf" ? Infinity : Number(b.labels.le)),
            bounds,
            "every bound, in order, +Inf last",
          );
          buckets.slice(1).forEach((b, i) => {
            assert.ok(b.value >= buckets[i].value, `${iface}: buckets are cumulative`);
          });
          const [count] = of("_count", iface);
          const [sum] = of("_sum", iface);
          assert.strictEqual(buckets.at(-1)!.value, count.value, `${iface}: +Inf is the count`);
          assert.deepStrictEqual(
            buckets.map((b) => b.value),
            bounds.map((le) => seconds.filter((s) => s <= le).length),
            `${iface}: each bucket counts the lingers up to its bound`,
          );
          const total = seconds.reduce((a, b) => a + b, 0);
          assert.ok(Math.abs(sum.value - total) < 0.001 * (seconds.length + 1), `${iface}: sum`);
          // The sum lies where the buckets put the lingers: above their lower
          // bounds, and below their upper ones where those are finite.
          let low = 0, high = 0;
          buckets.forEach((b, i) => {
            const n = b.value - (i === 0 ? 0 : buckets[i - 1].value);
            low += n * (i === 0 ? 0 : bounds[i - 1]);
            if (n > 0) high += n * bounds[i]; // 0 × Infinity is NaN
          });
          assert.ok(low <= sum.value && sum.value <= high, `${iface}: ${low} <= sum <= ${high}`);
        }
        const maxSleep = samples.filter((s) => s.name === "wg_reinstate_max_sleep_seconds");
        assert.deepStrictEqual(
          maxSleep.map((s) => s.value),
          options.maxSleep == null ? [] : [options.maxSleep],
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

Deno.test("alerting rules read only metrics the tool writes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wr-prom-" });
  try {
    const text = await metricsAfter(dir, [{ wg0: [0.5] }], { maxSleep: 180 });
    const written = new Set(
      [...text.matchAll(/^# TYPE (\w+) (\w+)$/gm)].flatMap(([, name, type]) =>
        type === "histogram" ? ["_bucket", "_sum", "_count"].map((s) => name + s) : [name]
      ),
    );
    const read = new Set(Deno.readTextFileSync(RULES).match(/\bwg_reinstate_\w+/g));
    assert.ok(read.size >= 6, [...read].join(" "));
    for (const name of read) assert.ok(written.has(name), `the rules read ${name}, never written`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
