/**
 * The daemon stays flat: the listeners on the process-long stop signal, the
 * live timers and the V8 heap are the same late in a long run as early in
 * it, while reloads rebuild the real `wg` runner (`realWg`, as the daemon
 * builds it) and the FAKE `wg` answers the calls, in virtual time.
 *
 * Two runs: 100,000 cycles of the daemon loop over the purge core, without
 * a status file (a recorded cycle costs milliseconds of file system calls
 * here); and 400 recorded cycles of the daemon's own wiring, its
 * CycleRunner, status file and locks included. In the long run, two cycles
 * in 20 are real (one purges, one finds nothing to purge) and the others
 * dry runs: a real cycle's key directory scan is most of its time and holds
 * nothing, and a leak per real cycle still grows tenfold between the
 * samples.
 */
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { CycleRunner } from "../../src/cli/cycle_runner.ts";
import { lineFormatter, logger, startLogging, stopLogging } from "../../src/cli/log.ts";
import { type SignalSource, StopSignals } from "../../src/cli/signals.ts";
import { realWg } from "../../src/cli/subcommand.ts";
import { runDaemon } from "../../src/commands/daemon_command.ts";
import { DirChecks } from "../../src/common/dir_checks.ts";
import { resolveSettings, type Settings } from "../../src/config/schema.ts";
import { PeerObservations, type Policy, runCycle } from "../../src/purge/mod.ts";
import type { Wg } from "../../src/wg/command.ts";
import { FakeWg } from "../support/fake_wg.ts";
import { manyPeers } from "../support/peers.ts";

const PEERS = 8;
const HEAP_SLACK_BYTES = 8 * 1024 * 1024;
const WALL_BASE = 1_800_000_000;

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

/** Virtual time: the daemon's sleeps advance it; the wall clock and performance.now read it. */
class VirtualClock {
  ms = 0;
  readonly #realNow = performance.now.bind(performance);

  /** Puts performance.now on this clock until {@link restore}. */
  install(): this {
    performance.now = () => this.#realNow() + this.ms;
    return this;
  }

  restore(): void {
    performance.now = this.#realNow;
  }

  /** The wall clock, unix seconds. */
  readonly now = () => WALL_BASE + this.ms / 1000;

  /** A sleep that takes no real time. */
  readonly sleep = (ms: number) => {
    this.ms += ms;
    return Promise.resolve();
  };
}

/** Counts the listeners added to and removed from `signal`, through its own methods. */
function countListeners(signal: AbortSignal): { readonly live: number } {
  const counter = { live: 0 };
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<typeof add>) => {
    counter.live++;
    add(...args);
  }) as typeof add;
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    counter.live--;
    remove(...args);
  }) as typeof remove;
  return counter;
}

/** Counts live timers (set, and neither fired nor cleared) until `restore` is called. */
function countTimers(): { live: Set<unknown>; restore: () => void } {
  const live = new Set<unknown>();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...rest: unknown[]) => {
    const id = realSet(() => {
      live.delete(id);
      fn(...rest);
    }, ms);
    live.add(id);
    return id;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((id: ReturnType<typeof setTimeout>) => {
    live.delete(id);
    realClear(id);
  }) as typeof clearTimeout;
  return {
    live,
    restore: () => {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    },
  };
}

/** V8's heap in use after full collections (node:v8 exposes `gc` without a runtime flag). */
function settledHeap(): number {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  for (let i = 0; i < 3; i++) gc();
  return Deno.memoryUsage().heapUsed;
}

/** Log lines, formatted as the daemon writes them, counted and checked for endpoints, not kept. */
function countLogLines(logLevel: "info" | "warning"): { lines: number; endpoints: number } {
  const counts = { lines: 0, endpoints: 0 };
  const format = lineFormatter("text");
  startLogging({ logLevel }, (record) => {
    counts.lines++;
    if (/192\.0\.2\./.test(format(record))) counts.endpoints++;
  });
  return counts;
}

/** A FAKE with `PEERS` peers, and a way to make them connect again (so that they go stale again). */
function fakeWithPeers(clock: VirtualClock): { fake: FakeWg; reconnect: () => void } {
  const fake = new FakeWg().addInterface("wg0", manyPeers(PEERS, 0));
  const reconnect = () => {
    for (const [i, p] of fake.state.get("wg0")!.entries()) {
      p.endpoint = `192.0.2.${i + 1}:${40000 + i}`;
      p.latestHandshake = Math.floor(clock.now());
    }
  };
  return { fake, reconnect };
}

interface Sample {
  listeners: number;
  timers: number;
  heap: number;
}

function describe(samples: Sample[]): string {
  const [a, b] = samples;
  const mb = (n: number) => (n / 1048576).toFixed(1);
  return `listeners ${a.listeners}/${b.listeners}, timers ${a.timers}/${b.timers}, ` +
    `heap ${mb(a.heap)}/${mb(b.heap)} MB`;
}

function assertFlat(samples: Sample[]): void {
  const [early, late] = samples;
  assert.strictEqual(late.listeners, early.listeners, "listeners on the stop signal");
  assert.strictEqual(late.timers, early.timers, "live timers");
  const grown = late.heap - early.heap;
  assert.ok(grown < HEAP_SLACK_BYTES, `heap grew ${(grown / 1048576).toFixed(1)} MB`);
}

Deno.test("daemon stays flat over 100,000 cycles with reloads: stop listeners, timers, heap (FAKE)", async () => {
  const CYCLES = 100_000;
  const EARLY = 10_000;
  // A reload that changes a wg setting, so the runner is rebuilt, every 100
  // cycles; the peers connect again every 20 (phase 1), go stale 6 cycles
  // later, and are purged by the real cycle of phase 10; the real cycle of
  // phase 15 finds nothing to purge.
  const RELOAD_EVERY = 100;
  const RECONNECT_EVERY = 20;
  const REAL_PHASES = [10, 15];
  const dir = await Deno.makeTempDir({ prefix: "wr-unit-" });
  const settingsWith = (wgTimeout: number): Settings =>
    resolveSettings([{ source: "test", values: { keyDir: dir, interval: 30, wgTimeout } }]);
  const policy: Policy = {
    staleAfter: 180,
    exclude: new Set(),
    configuredEndpoints: new Set(),
    configuredWithoutEndpoint: new Set(),
    saveConfig: null,
    warnings: [],
  };
  const clock = new VirtualClock().install();
  const { fake, reconnect } = fakeWithPeers(clock);
  const signals = new TestSignals();
  const stops = new StopSignals(signals, true);
  stops.sleep = clock.sleep;
  const listeners = countListeners(stops.stop);
  const timers = countTimers();
  // Warnings only: formatting every info line would take a third of the run.
  const logs = countLogLines("warning");

  const observe = { observations: new PeerObservations(), monotonic: () => clock.now() };
  const log = logger("purge");
  // One set of checked directories for the run: a walk per cycle is the
  // recorded cycle's cost, measured in the second test.
  const dirs = new DirChecks();

  let wg: Wg | null = null;
  let builtFor: number | null = null;
  let built = 0;
  let cycles = 0;
  let reloads = 0;
  let sets = 0;
  let realCycles = 0;
  const samples: Sample[] = [];
  const started = performance.now() - clock.ms;
  try {
    await runDaemon(settingsWith(10), {
      log: logger("daemon"),
      signals: stops,
      settleMs: 0,
      reload: () => Promise.resolve(settingsWith(++reloads % 2 === 0 ? 10 : 11)),
      cycle: async (settings, stop) => {
        cycles++;
        if (cycles % RECONNECT_EVERY === 1) reconnect();
        if (cycles === EARLY || cycles === CYCLES) {
          samples.push({
            listeners: listeners.live,
            timers: timers.live.size,
            heap: settledHeap(),
          });
        }
        const real = REAL_PHASES.includes(cycles % RECONNECT_EVERY);
        if (real) realCycles++;
        // As the daemon's runner does: a new wg runner when a wg setting
        // changed, the real one built (whatever it holds counts), the FAKE used.
        if (wg === null || builtFor !== settings.wgTimeout) {
          realWg(settings, stop);
          built++;
          builtFor = settings.wgTimeout;
          wg = fake;
        }
        await runCycle(wg, {
          interfaces: "all",
          dryRun: !real,
          wgTimeoutMs: settings.wgTimeout * 1000,
          now: clock.now,
          policyFor: () => Promise.resolve(policy),
          keyDir: dir,
          lockDir: null,
          dirs,
          observe,
          sleep: clock.sleep,
          stop,
        }, log);
        sets += fake.sets.length;
        // The FAKE's own record of calls would grow for ever.
        fake.calls.length = 0;
        fake.limits.length = 0;
        if (cycles === CYCLES) signals.send("SIGTERM");
        else if (cycles % RELOAD_EVERY === RELOAD_EVERY / 2) signals.send("SIGHUP");
      },
    });
  } finally {
    stops.dispose();
    stopLogging();
    timers.restore();
    clock.restore();
    await Deno.remove(dir, { recursive: true });
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${cycles} cycles in ${seconds.toFixed(1)} s (${(clock.ms / 86_400_000).toFixed(0)} virtual ` +
      `days, ${realCycles} of them real): ${built} runners built, ${sets} wg set calls, ` +
      `${logs.lines} log lines; ` +
      `at cycle ${EARLY} and ${CYCLES}: ${describe(samples)}`,
  );
  assert.strictEqual(cycles, CYCLES);
  assert.ok(built > CYCLES / RELOAD_EVERY, `${built} runners built`);
  assert.ok(sets >= (CYCLES / RECONNECT_EVERY) * 0.9, `${sets} wg set calls: the cycles purged`);
  assertFlat(samples);
});

Deno.test("daemon's CycleRunner stays flat over 400 recorded cycles with reloads (FAKE)", async () => {
  const CYCLES = 400;
  const EARLY = 100;
  const RELOAD_EVERY = 10;
  const RECONNECT_EVERY = 10;
  const dir = await Deno.makeTempDir({ prefix: "wr-unit-" });
  const wgQuickConfig = `${dir}/empty.conf`;
  await Deno.writeTextFile(wgQuickConfig, "");
  const settingsWith = (wgTimeout: number): Settings =>
    resolveSettings([{
      source: "test",
      values: {
        statusFile: `${dir}/status.json`,
        lockDir: dir,
        keyDir: dir,
        wgQuickConfig,
        interval: 30,
        wgTimeout,
      },
    }]);
  const clock = new VirtualClock().install();
  const { fake, reconnect } = fakeWithPeers(clock);
  let built = 0;
  const wgFor = (settings: Settings, stop?: AbortSignal): Wg => {
    built++;
    realWg(settings, stop);
    return fake;
  };
  const signals = new TestSignals();
  const runner = new CycleRunner(settingsWith(10), {
    wgFor,
    now: clock.now,
    daemon: true,
    signals,
  });
  runner.signals.sleep = clock.sleep;
  const listeners = countListeners(runner.signals.stop);
  const timers = countTimers();
  const logs = countLogLines("info");
  let cycles = 0;
  let reloads = 0;
  const samples: Sample[] = [];
  try {
    // As daemonCommand.run wires it.
    await runDaemon(runner.settings, {
      log: logger("daemon"),
      signals: runner.signals,
      settleMs: 0,
      reload: () => Promise.resolve(settingsWith(++reloads % 2 === 0 ? 10 : 11)),
      cycle: async (current) => {
        cycles++;
        if (cycles % RECONNECT_EVERY === 1) reconnect();
        if (cycles === EARLY || cycles === CYCLES) {
          samples.push({
            listeners: listeners.live,
            timers: timers.live.size,
            heap: settledHeap(),
          });
        }
        runner.update(current);
        await runner.cycle();
        fake.calls.length = 0;
        fake.limits.length = 0;
        if (cycles === CYCLES) signals.send("SIGTERM");
        else if (cycles % RELOAD_EVERY === RELOAD_EVERY / 2) signals.send("SIGHUP");
      },
    });
  } finally {
    runner.dispose();
    stopLogging();
    timers.restore();
    clock.restore();
    await Deno.remove(dir, { recursive: true });
  }
  console.log(`${cycles} recorded cycles, ${built} runners built: ${describe(samples)}`);
  assert.strictEqual(cycles, CYCLES);
  assert.ok(built > CYCLES / RELOAD_EVERY, `${built} runners built`);
  assert.strictEqual(logs.endpoints, 0, "no endpoint in any log line");
  assertFlat(samples);
});
