import assert from "node:assert/strict";
import { resolveSettings, type Settings } from "../../src/config/schema.ts";
import { runDaemon } from "../../src/commands/daemon_command.ts";
import { type SignalSource, StopSignals } from "../../src/cli/signals.ts";
import { logger } from "../../src/cli/log.ts";
import { StopRequest, stopRequestedAt } from "../../src/wg/command.ts";

/** Signals delivered by the test instead of the kernel. */
class TestSignals implements SignalSource {
  handlers = new Map<Deno.Signal, Set<() => void>>();
  add(signal: Deno.Signal, handler: () => void) {
    if (!this.handlers.has(signal)) this.handlers.set(signal, new Set());
    this.handlers.get(signal)!.add(handler);
  }
  remove(signal: Deno.Signal, handler: () => void) {
    this.handlers.get(signal)?.delete(handler);
  }
  send(signal: Deno.Signal) {
    for (const h of this.handlers.get(signal) ?? []) h();
  }
}

Deno.test("runDaemon asks the running cycle to stop on SIGTERM, lets it finish, then returns", async () => {
  const signals = new TestSignals();
  const stops = new StopSignals(signals, true);
  const events: string[] = [];
  let release!: () => void;
  const cycleStarted = Promise.withResolvers<void>();
  const done = runDaemon(resolveSettings([]), {
    log: logger("daemon"),
    signals: stops,
    reload: () => Promise.reject(new Error("not used")),
    cycle: async (_settings, stop) => {
      events.push(`cycle start, stop requested: ${stop.aborted}`);
      cycleStarted.resolve();
      await new Promise<void>((r) => (release = r));
      events.push(`cycle end, stop requested: ${stop.aborted}`);
    },
  });
  await cycleStarted.promise;
  signals.send("SIGTERM");
  events.push("signal sent");
  release();
  await done;
  stops.dispose();
  events.push("daemon returned");
  assert.deepStrictEqual(events, [
    "cycle start, stop requested: false",
    "signal sent",
    "cycle end, stop requested: true",
    "daemon returned",
  ]);
  assert.strictEqual(signals.handlers.get("SIGTERM")!.size, 0, "handlers removed");
});

Deno.test("runDaemon reloads on SIGHUP, keeps old settings on a bad reload, and wakes from sleep", async () => {
  const signals = new TestSignals();
  const stops = new StopSignals(signals, true);
  const seen: number[] = [];
  const reloads: (() => Promise<Settings>)[] = [
    () =>
      Promise.resolve(
        resolveSettings([{ source: "t", values: { staleAfter: 900, interval: 3600 } }]),
      ),
    () => Promise.reject(new Error("bad file")),
  ];
  const cycled = () => Promise.withResolvers<void>();
  let next = cycled();
  const done = runDaemon(resolveSettings([{ source: "t", values: { interval: 3600 } }]), {
    log: logger("daemon"),
    signals: stops,
    settleMs: 0,
    reload: () => reloads.shift()!(),
    cycle: (s) => {
      seen.push(s.staleAfter);
      next.resolve();
      return Promise.resolve();
    },
  });
  for (const signal of ["SIGHUP", "SIGHUP", "SIGINT"] as const) {
    await next.promise;
    next = cycled();
    // The daemon now sleeps for an hour: the signal must wake it.
    signals.send(signal);
  }
  await done;
  stops.dispose();
  assert.deepStrictEqual(seen, [180, 900, 900]);
});

Deno.test("runDaemon runs the cycle a full settle after the last of two SIGHUPs", async () => {
  const signals = new TestSignals();
  const stops = new StopSignals(signals, true);
  const settleMs = 400;
  const cycles: number[] = [];
  const next = () => Promise.withResolvers<void>();
  let cycled = next();
  const done = runDaemon(resolveSettings([{ source: "t", values: { interval: 3600 } }]), {
    log: logger("daemon"),
    signals: stops,
    settleMs,
    reload: () => Promise.resolve(resolveSettings([{ source: "t", values: { interval: 3600 } }])),
    cycle: () => {
      cycles.push(performance.now());
      cycled.resolve();
      return Promise.resolve();
    },
  });
  await cycled.promise;
  cycled = next();
  signals.send("SIGHUP");
  await new Promise((r) => setTimeout(r, settleMs / 2));
  const lastHup = performance.now();
  signals.send("SIGHUP"); // during the settle: it starts again
  await cycled.promise;
  const waited = cycles[1] - lastHup;
  signals.send("SIGTERM");
  await done;
  stops.dispose();
  assert.strictEqual(cycles.length, 2);
  assert.ok(waited >= settleMs - 5, `the cycle ran ${waited.toFixed(0)} ms after the last HUP`);
});

Deno.test("StopSignals makes SIGHUP a stop request for run and a reload for the daemon", async (t) => {
  const cases: [string, boolean, Deno.Signal, { stop: boolean; reload: boolean }][] = [
    ["run: SIGTERM stops", false, "SIGTERM", { stop: true, reload: false }],
    ["run: SIGINT (Ctrl-C) stops", false, "SIGINT", { stop: true, reload: false }],
    ["run: SIGHUP (the terminal closed) stops", false, "SIGHUP", { stop: true, reload: false }],
    ["daemon: SIGTERM stops", true, "SIGTERM", { stop: true, reload: false }],
    ["daemon: SIGINT stops", true, "SIGINT", { stop: true, reload: false }],
    ["daemon: SIGHUP reloads", true, "SIGHUP", { stop: false, reload: true }],
  ];
  for (const [name, reload, signal, expected] of cases) {
    await t.step(name, () => {
      const signals = new TestSignals();
      const stops = new StopSignals(signals, reload);
      const installed = (s: Deno.Signal) => signals.handlers.get(s)?.size ?? 0;
      assert.deepStrictEqual(
        ["SIGTERM", "SIGINT", "SIGHUP"].map((s) => installed(s as Deno.Signal)),
        [1, 1, 1],
      );
      const before = performance.now();
      signals.send(signal);
      assert.deepStrictEqual({ stop: stops.stop.aborted, reload: stops.reloadWanted }, expected);
      if (expected.stop) {
        assert.ok(stops.stop.reason instanceof StopRequest, String(stops.stop.reason));
        const at = stopRequestedAt(stops.stop)!;
        assert.ok(at >= before && at <= performance.now(), "when the stop came");
      }
      stops.dispose();
      assert.deepStrictEqual(
        ["SIGTERM", "SIGINT", "SIGHUP"].map((s) => installed(s as Deno.Signal)),
        [0, 0, 0],
      );
    });
  }
});

Deno.test("StopSignals' stop request wakes a sleep, in run as in the daemon", async (t) => {
  for (
    const [name, reload, signal] of [
      ["run, SIGHUP", false, "SIGHUP"],
      ["daemon, SIGTERM", true, "SIGTERM"],
    ] as const
  ) {
    await t.step(name, async () => {
      const signals = new TestSignals();
      const stops = new StopSignals(signals, reload);
      const started = performance.now();
      const slept = stops.sleep(60_000);
      signals.send(signal);
      await slept;
      stops.dispose();
      assert.ok(performance.now() - started < 1000);
      assert.ok(stops.stop.aborted);
    });
  }
});

Deno.test("runDaemon sleeps to each deadline, and keeps quiet only the cycles off its grid", async () => {
  const signals = new TestSignals();
  const stops = new StopSignals(signals, true);
  const NOW = 1_800_000_000;
  let t = 0; // the monotonic clock, moved on by the sleeps
  // A deadline in 12 s; one far off; a failed cycle; one more.
  const timings = [
    { nextDeadline: NOW + 12, uneventful: true },
    { nextDeadline: NOW + 5000, uneventful: true },
    null,
    { nextDeadline: NOW + 5000, uneventful: true },
  ];
  const seen: { at: number; quiet: boolean }[] = [];
  const slept: number[] = [];
  stops.sleep = (ms) => {
    slept.push(Math.round(ms));
    t += ms / 1000;
    if (slept.length === timings.length) signals.send("SIGTERM");
    return Promise.resolve();
  };
  await runDaemon(resolveSettings([{ source: "t", values: { interval: 120 } }]), {
    log: logger("daemon"),
    signals: stops,
    reload: () => Promise.reject(new Error("not used")),
    now: () => NOW + t,
    monotonic: () => t,
    cycle: (_settings, _stop, quiet) => {
      seen.push({ at: Math.round(t * 100) / 100, quiet });
      const timing = timings[seen.length - 1];
      return timing === null ? Promise.reject(new Error("wg failed")) : Promise.resolve(timing);
    },
  });
  stops.dispose();
  assert.deepStrictEqual(seen, [
    { at: 0, quiet: false }, // at start: on the grid
    { at: 12.02, quiet: true }, // a peer's deadline
    { at: 120, quiet: false }, // the grid again, though the deadline is far
    { at: 240, quiet: false }, // after the failed cycle, the longest sleep: the grid
  ]);
  assert.deepStrictEqual(slept, [12_020, 107_980, 120_000, 120_000]);
});
