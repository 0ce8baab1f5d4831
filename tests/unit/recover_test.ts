/**
 * Recovery from a killed purge against the FAKE in-memory `wg`: the replay
 * decision for each peer, and a start that finds a journal left by a
 * process that really died (a child process that wrote it and exited
 * without cleaning up, as SIGKILL leaves it).
 */
import assert from "node:assert/strict";
import { logger } from "../../src/cli/log.ts";
import { type CycleOptions, runCycle } from "../../src/purge/cycle.ts";
import type { InterfaceIdentity } from "../../src/purge/journal.ts";
import { leftoverWaitMs, planReplay } from "../../src/purge/recover.ts";
import type { WgPeer } from "../../src/wg/dump.ts";
import { FakeWg } from "../support/fake_wg.ts";
import { withLogs } from "../support/log_capture.ts";
import { configsByKey, key, manyPeers, peer, policy } from "../support/peers.ts";

const NOW = 100_000;
const ROOT = new URL("../..", import.meta.url).pathname;
const JOURNAL = new URL("../../src/purge/journal.ts", import.meta.url).href;
const KEY_DIR = new URL("../../src/wg/key_dir.ts", import.meta.url).href;

Deno.test("planReplay puts back what a cut call may have broken, and nothing else", async (t) => {
  const was = peer({
    publicKey: key("a"),
    presharedKey: key("p"),
    allowedIps: ["10.0.0.2/32", "10.0.1.0/24"],
    persistentKeepalive: 25,
  });
  const readded = { ...was, endpoint: null, latestHandshake: 0 };
  const cases: [string, WgPeer | null, "replay" | "keep" | "changed"][] = [
    ["missing", null, "replay"],
    ["allowed IPs cut short", { ...readded, allowedIps: ["10.0.0.2/32"] }, "replay"],
    ["no key", { ...readded, presharedKey: null }, "replay"],
    ["no keepalive, but a handshake since", {
      ...readded,
      persistentKeepalive: null,
      latestHandshake: NOW,
    }, "replay"],
    ["whole, never started (wireguard-go)", readded, "replay"],
    ["keepalive half-written (25 cut to 2)", { ...readded, persistentKeepalive: 2 }, "replay"],
    ["allowed IP half-written (/24 cut to /2)", {
      ...readded,
      allowedIps: ["10.0.0.2/32", "0.0.0.0/2"],
    }, "replay"],
    ["whole with a handshake: never reached, or alive", was, "keep"],
    ["a new key: someone else's", { ...was, presharedKey: key("q") }, "changed"],
    ["new allowed IPs: someone else's", { ...readded, allowedIps: ["10.7.0.0/16"] }, "changed"],
    ["a keepalive no cut leaves: someone else's", { ...was, persistentKeepalive: 5 }, "changed"],
  ];
  for (const [name, now, expected] of cases) {
    await t.step(name, () => {
      const plan = planReplay([was], now === null ? [] : [now]);
      const got = plan.replay.length > 0
        ? "replay"
        : plan.leftAlone.length > 0
        ? "changed"
        : "keep";
      assert.strictEqual(got, expected);
      if (got === "replay") assert.strictEqual(plan.replay[0], was, "as it was read");
    });
  }
});

/**
 * Runs `body` in a child process that then exits without cleaning up: what
 * a purge killed at that point leaves behind. `body` sees `parent`.
 */
async function dieAfter(parent: string, body: string): Promise<void> {
  const script = `
    import { PurgeJournal } from ${JSON.stringify(JOURNAL)};
    import { KeyDir } from ${JSON.stringify(KEY_DIR)};
    const parent = ${JSON.stringify(parent)};
    ${body}
    Deno.exit(0);`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
}

/** Leaves the journal of a purge killed in its first call, which holds `peers`. */
async function dieMidCall(parent: string, iface: InterfaceIdentity, peers: WgPeer[]) {
  const configs = peers.map(({ publicKey, allowedIps, presharedKey, persistentKeepalive }) => ({
    publicKey,
    allowedIps,
    presharedKey,
    persistentKeepalive,
  }));
  await dieAfter(
    parent,
    `const journal = await PurgeJournal.open(parent, undefined, ${JSON.stringify(iface)});
    await journal.begin(${JSON.stringify(configs)}, 5000);`,
  );
}

async function cycleIn(dir: string, wg: FakeWg, over: Partial<CycleOptions> = {}) {
  return await withLogs(() =>
    runCycle(wg, {
      interfaces: "all",
      dryRun: false,
      wgTimeoutMs: 10_000,
      clockMs: () => wg.elapsedMs,
      now: () => NOW,
      policyFor: () => Promise.resolve(policy()),
      keyDir: dir,
      lockDir: dir,
      sleep: () => Promise.resolve(),
      ...over,
    }, logger("purge"))
  );
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "wr-unit-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const keyDirs = (dir: string) =>
  [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("keys-"));

Deno.test("runCycle puts back every peer a killed purge's cut call touched, then purges", async () => {
  await withDir(async (dir) => {
    const peers = manyPeers(6, NOW - 600);
    const wg = new FakeWg().addInterface("wg0", peers);
    await dieMidCall(dir, { name: "wg0", publicKey: null, listenPort: 51820 }, peers.slice(0, 4));
    // What the cut call did: two peers removed, one re-added without its
    // allowed IPs and key, one re-added whole (never started on wireguard-go).
    const state = wg.state.get("wg0")!;
    const readd = (p: WgPeer) => ({ ...p, endpoint: null, latestHandshake: 0 });
    state.splice(0, 4, { ...readd(peers[2]), allowedIps: [], presharedKey: null }, readd(peers[3]));
    const { result, lines } = await cycleIn(dir, wg, { interfaces: ["wg0"] });
    assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers), "0 lost, 0 changed");
    assert.strictEqual(result.ok, true, lines.join("\n"));
    assert.ok(
      lines.some((l) => /\[WRN\].*a purge was killed part-way; putting back the 4 peers/.test(l)),
    );
    assert.ok(lines.some((l) => /4 of 4 peers of the killed purge put back/.test(l)));
    // The replayed peers hold no endpoint; the untouched stale ones were purged.
    assert.ok(wg.peers("wg0").every((p) => p.endpoint === null));
    assert.deepStrictEqual(keyDirs(dir), [], "no key directory left");
  });
});

Deno.test("runCycle leaves a killed purge's peer that someone else changed since", async () => {
  await withDir(async (dir) => {
    const peers = manyPeers(2, NOW - 600);
    const wg = new FakeWg().addInterface("wg0", peers);
    await dieMidCall(dir, { name: "wg0", publicKey: null, listenPort: 51820 }, peers);
    // The admin rotated the first peer's key after the kill.
    wg.state.get("wg0")![0].presharedKey = key("r");
    const { lines } = await cycleIn(dir, wg, { interfaces: ["wg0"], dryRun: false });
    assert.strictEqual(
      wg.peers("wg0").find((p) => p.publicKey === peers[0].publicKey)?.presharedKey,
      key("r"),
    );
    assert.ok(lines.some((l) => /\[INF\].*changed by someone else/.test(l)), lines.join("\n"));
  });
});

Deno.test("runCycle sets aside a killed purge's journal for an interface created anew", async (t) => {
  for (
    const [name, iface] of [
      ["another public key", { name: "wg0", publicKey: key("s"), listenPort: 51820 }],
      ["gone", { name: "wg9", publicKey: null, listenPort: 51820 }],
    ] as const
  ) {
    await t.step(name, async () => {
      await withDir(async (dir) => {
        const peers = manyPeers(2, NOW - 10);
        const wg = new FakeWg().addInterface("wg0", peers);
        wg.state.get("wg0")!.shift();
        await dieMidCall(dir, iface, peers);
        const { lines } = await cycleIn(dir, wg);
        assert.strictEqual(wg.sets.length, 0, "nothing replayed");
        assert.ok(lines.some((l) => /journal of a killed purge was set aside/.test(l)));
        assert.deepStrictEqual(keyDirs(dir), []);
      });
    });
  }
});

Deno.test("runCycle replays nothing in a dry run", async () => {
  await withDir(async (dir) => {
    const peers = manyPeers(2, NOW - 600);
    const wg = new FakeWg().addInterface("wg0", peers);
    await dieMidCall(dir, { name: "wg0", publicKey: null, listenPort: 51820 }, peers);
    wg.state.get("wg0")!.shift();
    await cycleIn(dir, wg, { dryRun: true });
    assert.strictEqual(wg.sets.length, 0);
    assert.strictEqual(keyDirs(dir).length, 1, "kept for a real start");
  });
});

Deno.test("runCycle removes the key directory of a purge killed before its journal recorded the interface", async (t) => {
  for (
    const [name, body] of [
      ["no journal", ""],
      ["an empty journal", `await keys.appendJournal("");`],
      ["the interface record cut", `await keys.appendJournal('{"t":"interface","na');`],
    ]
  ) {
    await t.step(name, async () => {
      await withDir(async (dir) => {
        const peers = manyPeers(2, NOW - 600);
        const wg = new FakeWg().addInterface("wg0", peers);
        await dieAfter(dir, `const keys = await KeyDir.create(parent); ${body}`);
        assert.strictEqual(keyDirs(dir).length, 1);
        const { result, lines } = await cycleIn(dir, wg);
        assert.strictEqual(result.ok, true, lines.join("\n"));
        assert.deepStrictEqual(keyDirs(dir), [], "removed");
        assert.ok(wg.peers("wg0").every((p) => p.endpoint === null), "its own purge ran");
      });
    });
  }
});

Deno.test("leftoverWaitMs gives a call a killed purge left running twice its expected time", async (t) => {
  // A call expected to take 2 s: 2 × 2 s + 1 s.
  const cases: [string, number | null, number, number][] = [
    ["written just now", 10_000, 10_000, 5_000],
    ["written 2 s ago", 10_000, 12_000, 3_000],
    ["long past", 10_000, 60_000, 0],
    ["the clock stepped back", 10_000, 0, 5_000],
    ["no journal time", null, 10_000, 5_000],
  ];
  for (const [name, written, now, expected] of cases) {
    await t.step(name, () => assert.strictEqual(leftoverWaitMs(written, now, 2_000), expected));
  }
});

Deno.test("runCycle waits out the last call of a killed purge before putting it back", async () => {
  await withDir(async (dir) => {
    const peers = manyPeers(2, NOW - 600);
    const wg = new FakeWg().addInterface("wg0", peers);
    await dieMidCall(dir, { name: "wg0", publicKey: null, listenPort: 51820 }, peers);
    const sleeps: number[] = [];
    await cycleIn(dir, wg, {
      sleep: (ms) => (sleeps.push(ms), Promise.resolve()),
    });
    // The dead call was expected to take 5 s: the wait is up to 11 s from its start.
    assert.ok(sleeps[0] > 9_000 && sleeps[0] <= 11_000, String(sleeps));
  });
});
