/**
 * The one cycle runner of `run` and the daemon, against the FAKE `wg`: one
 * `wg` runner per process, each directory walked once per cycle, its
 * signal handlers removed.
 */
import assert from "node:assert/strict";
import { CycleRunner } from "../../src/cli/cycle_runner.ts";
import type { SignalSource } from "../../src/cli/signals.ts";
import { resolveSettings, type Settings } from "../../src/config/schema.ts";
import type { Wg } from "../../src/wg/command.ts";
import { FakeWg } from "../support/fake_wg.ts";
import { withLogs } from "../support/log_capture.ts";
import { key, peer } from "../support/peers.ts";

const NOW = 100_000;

/** Counts the handlers installed, so a test can see that none is left behind. */
class CountingSignals implements SignalSource {
  installed = 0;
  add() {
    this.installed++;
  }
  remove() {
    this.installed--;
  }
}

/** Two interfaces, each with a stale peer that has a preshared key (each makes a key directory). */
function twoInterfaces(): FakeWg {
  const stale = (letter: string) =>
    peer({ publicKey: key(letter), latestHandshake: NOW - 600, presharedKey: key("p") });
  return new FakeWg().addInterface("wg0", [stale("a")]).addInterface("wg1", [stale("b")]);
}

/**
 * Settings with `values`, and an empty wg-quick file: the default one in
 * /etc/wireguard is the host's, and only root may read it.
 */
function settingsIn(values: Record<string, unknown>): Settings {
  return resolveSettings([{ source: "test", values: { wgQuickConfig: EMPTY, ...values } }]);
}
const EMPTY = Deno.makeTempFileSync({ prefix: "wr-unit-", suffix: ".conf" });
globalThis.addEventListener("unload", () => Deno.removeSync(EMPTY));

Deno.test("CycleRunner walks each directory chain once per cycle (FAKE)", async (t) => {
  const cases: [string, (dir: string) => Record<string, unknown>, number][] = [
    ["status, lock and key directories shared, as by default", (dir) => ({
      statusFile: `${dir}/status.json`,
      lockDir: dir,
      keyDir: dir,
    }), 1],
    ["status, metrics, lock and key directories apart", (dir) => ({
      statusFile: `${dir}/status/status.json`,
      metricsFile: `${dir}/metrics/wg_reinstate.prom`,
      lockDir: `${dir}/lock`,
      keyDir: `${dir}/keys`,
    }), 4],
  ];
  for (const [name, layout, walks] of cases) {
    await t.step(name, async () => {
      const dir = await Deno.makeTempDir({ prefix: "wr-unit-" });
      const wg = twoInterfaces();
      const runner = new CycleRunner(settingsIn(layout(dir)), {
        wgFor: () => wg,
        now: () => NOW,
        daemon: false,
        signals: new CountingSignals(),
      });
      try {
        const { result: report } = await withLogs(() => runner.cycle());
        assert.deepStrictEqual(report.interfaces.map((i) => i.purged.length), [1, 1]);
        assert.strictEqual(runner.dirWalks, walks);
      } finally {
        runner.dispose();
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

Deno.test("CycleRunner builds one wg per process, again only when its settings change (FAKE)", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "wr-unit-" });
  const built: Settings[] = [];
  const wgFor = (settings: Settings): Wg => {
    built.push(settings);
    return new FakeWg();
  };
  const signals = new CountingSignals();
  const paths = { statusFile: `${dir}/status.json`, lockDir: dir, keyDir: dir };
  const runner = new CycleRunner(settingsIn(paths), {
    wgFor,
    now: () => NOW,
    daemon: true,
    signals,
  });
  const steps: [string, Record<string, unknown>, number][] = [
    ["the first cycle builds it", {}, 1],
    ["a reload with the same wg settings keeps it", { staleAfter: 900 }, 1],
    ["a new --wg-timeout rebuilds it", { staleAfter: 900, wgTimeout: 20 }, 2],
    ["a new --wg rebuilds it", { staleAfter: 900, wgTimeout: 20, wg: "/usr/bin/wg" }, 3],
  ];
  try {
    for (const [name, values, count] of steps) {
      await t.step(name, async () => {
        runner.update(settingsIn({ ...paths, ...values }));
        await withLogs(() => runner.cycle());
        await withLogs(() => runner.cycle());
        assert.strictEqual(built.length, count);
      });
    }
    assert.strictEqual(signals.installed, 3, "SIGTERM, SIGINT and the daemon's SIGHUP");
  } finally {
    runner.dispose();
    await Deno.remove(dir, { recursive: true });
  }
  assert.strictEqual(signals.installed, 0);
});

Deno.test("CycleRunner writes the longest sleep to the metrics for the daemon, not for run (FAKE)", async (t) => {
  for (const daemon of [true, false]) {
    await t.step(daemon ? "daemon" : "run", async () => {
      const dir = await Deno.makeTempDir({ prefix: "wr-unit-" });
      const runner = new CycleRunner(
        settingsIn({
          statusFile: `${dir}/status.json`,
          metricsFile: `${dir}/m.prom`,
          lockDir: dir,
          keyDir: dir,
          interval: 77,
        }),
        { wgFor: () => twoInterfaces(), now: () => NOW, daemon, signals: new CountingSignals() },
      );
      try {
        await withLogs(() => runner.cycle());
        const metrics = await Deno.readTextFile(`${dir}/m.prom`);
        assert.strictEqual(/^wg_reinstate_max_sleep_seconds 77$/m.test(metrics), daemon, metrics);
      } finally {
        runner.dispose();
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

Deno.test("CycleRunner's quiet cycle leaves no line and no record when uneventful, and both when it purges (FAKE)", async (t) => {
  const cases: [string, number, boolean][] = [
    ["nothing due", NOW - 10, false],
    ["a stale peer", NOW - 600, true],
  ];
  for (const [name, handshake, traced] of cases) {
    await t.step(name, async () => {
      const dir = await Deno.makeTempDir({ prefix: "wr-unit-" });
      const wg = new FakeWg().addInterface("wg0", [
        peer({ publicKey: key("a"), latestHandshake: handshake }),
      ]);
      const runner = new CycleRunner(
        settingsIn({ statusFile: `${dir}/status.json`, lockDir: dir, keyDir: dir }),
        { wgFor: () => wg, now: () => NOW, daemon: false, signals: new CountingSignals() },
      );
      try {
        const { lines } = await withLogs(() => runner.cycle(true));
        const recorded = await Deno.stat(`${dir}/status.json`).then(() => true, () => false);
        assert.strictEqual(recorded, traced);
        assert.strictEqual(lines.length > 0, traced, lines.join("\n"));
      } finally {
        runner.dispose();
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});
