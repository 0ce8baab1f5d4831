import assert from "node:assert/strict";
import { resolveSettings, type Settings } from "../src/config/schema.ts";
import { runDaemon, type SignalSource } from "../src/daemon.ts";
import { logger } from "../src/log.ts";
import { CliProcess } from "./support/cli.ts";
import { WgLab } from "./support/lab.ts";
import { peerByKey } from "./support/scenario.ts";

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

Deno.test("runDaemon lets the running cycle finish on SIGTERM, then returns", async () => {
  const signals = new TestSignals();
  const events: string[] = [];
  let release!: () => void;
  const cycleStarted = Promise.withResolvers<void>();
  const done = runDaemon(resolveSettings([]), {
    log: logger("daemon"),
    signals,
    reload: () => Promise.reject(new Error("not used")),
    cycle: async () => {
      events.push("cycle start");
      cycleStarted.resolve();
      await new Promise<void>((r) => (release = r));
      events.push("cycle end");
    },
  });
  await cycleStarted.promise;
  signals.send("SIGTERM");
  events.push("signal sent");
  release();
  await done;
  events.push("daemon returned");
  assert.deepStrictEqual(events, ["cycle start", "signal sent", "cycle end", "daemon returned"]);
  assert.strictEqual(signals.handlers.get("SIGTERM")!.size, 0, "handlers removed");
});

Deno.test("runDaemon reloads on SIGHUP, keeps old settings on a bad reload, and wakes from sleep", async () => {
  const signals = new TestSignals();
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
    signals,
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
  assert.deepStrictEqual(seen, [180, 900, 900]);
});

Deno.test("daemon process purges, reloads its config on SIGHUP and exits 0 on SIGTERM", async () => {
  const lab = await WgLab.start();
  const config = await Deno.makeTempFile({ suffix: ".json" });
  let daemon: CliProcess | null = null;
  try {
    const plain = await lab.addClient();
    const withPsk = await lab.addClient({ psk: true });
    for (const c of [plain, withPsk]) assert.ok(await lab.ping(c));
    const settings = (exclude: string[]) =>
      JSON.stringify({ interfaces: [lab.iface], interval: 1, exclude });
    await Deno.writeTextFile(config, settings([withPsk.keys.publicKey]));

    // The daemon purges what it has watched for stale-after on its monotonic
    // clock; running that clock 200 times faster makes it one real second.
    daemon = new CliProcess(["daemon", "--config", config], {
      clockShift: 300,
      monotonicSpeed: 200,
    });
    await daemon.waitFor(/cycle done .* 1 purged/);
    let peers = (await lab.dump()).peers;
    assert.strictEqual(peerByKey(peers, plain.keys.publicKey).endpoint, null);
    assert.notStrictEqual(peerByKey(peers, withPsk.keys.publicKey).endpoint, null, "excluded");

    await Deno.writeTextFile(config, settings([]));
    daemon.child.kill("SIGHUP");
    await daemon.waitFor(/settings reloaded[\s\S]*purged peer/);
    peers = (await lab.dump()).peers;
    assert.strictEqual(peerByKey(peers, withPsk.keys.publicKey).endpoint, null);
    assert.strictEqual(peerByKey(peers, withPsk.keys.publicKey).presharedKey, withPsk.psk);

    const status = await daemon.stop("SIGTERM");
    assert.match(daemon.stderr, /daemon stopping on signal/);
    daemon = null;
    assert.strictEqual(status.code, 0);
  } finally {
    await daemon?.stop("SIGKILL");
    await lab.close();
    await Deno.remove(config);
  }
});
