/**
 * Kernel WireGuard on a slow kernel: the VM boots with
 * `rcupdate.rcu_normal=1`, so every removed peer waits for a normal RCU grace
 * period (~40 ms here), as on Debian's PREEMPT_RT kernel. One `wg set` that
 * argv would allow then runs for a minute. Run by scripts/dev.sh test in
 * its own VM; it fails on a kernel booted without that flag.
 */
import assert from "node:assert/strict";
import { runCli } from "../harness/cli.ts";
import { type LoadPeer, WgLab } from "../harness/lab.ts";
import { configOf } from "../harness/scenario.ts";
import type { WgPeer } from "../../src/wg/dump.ts";
import { withWrapper } from "../support/wrappers.ts";

function assertSlowKernel(): void {
  assert.match(Deno.readTextFileSync("/proc/cmdline"), /\brcupdate\.rcu_normal=1\b/);
  assert.strictEqual(Deno.readTextFileSync("/sys/kernel/rcu_normal").trim(), "1");
}

/** A kernel lab with `count` PSK peers that completed real handshakes. */
async function stalePskLab(count: number): Promise<{ lab: WgLab; peers: LoadPeer[] }> {
  const lab = await WgLab.start({ impl: "kernel" });
  try {
    const peers = await lab.addLoadPeers(
      Array.from(
        { length: count },
        (_, i) => ({ psk: true, keepalive: i % 3 === 0 ? 25 : undefined }),
      ),
    );
    await handshakeAll(lab, peers);
    return { lab, peers };
  } catch (error) {
    await closeFast(lab);
    throw error;
  }
}

async function handshakeAll(lab: WgLab, peers: LoadPeer[]): Promise<void> {
  const results = await lab.runHandshakes(peers, 32);
  assert.strictEqual(results.filter((r) => r.ok).length, peers.length, "every handshake completed");
}

/**
 * Tears the lab down with expedited grace periods: emptying 1,500 peers with
 * normal ones would take a minute on its own.
 */
async function closeFast(lab: WgLab): Promise<void> {
  Deno.writeTextFileSync("/sys/kernel/rcu_normal", "0");
  try {
    await lab.close();
  } finally {
    Deno.writeTextFileSync("/sys/kernel/rcu_normal", "1");
  }
}

/** Peers missing, or with a configuration other than before. */
function lost(before: readonly WgPeer[], after: readonly WgPeer[]): string[] {
  const now = new Map(after.map((p) => [p.publicKey, JSON.stringify(configOf(p))]));
  return before.filter((p) => now.get(p.publicKey) !== JSON.stringify(configOf(p))).map((p) =>
    p.publicKey
  );
}

/**
 * `run` with the real wg killed `after` seconds into `wg set` call `call`;
 * null when that call ended first (so nothing was killed).
 */
async function killedRun(
  lab: WgLab,
  call: number,
  after: number,
): Promise<Awaited<ReturnType<typeof runCli>> | null> {
  return await withWrapper(
    `#!/bin/sh
# Not a fake: the real wg, killed with SIGKILL part-way through set call ${call}.
if [ "$1" = set ]; then
  n=$(($(cat @DIR@/n 2>/dev/null || echo 0) + 1))
  echo "$n" > @DIR@/n
  if [ "$n" = ${call} ]; then
    @WG@ "$@" &
    pid=$!
    sleep ${after}
    kill -KILL "$pid" 2>/dev/null && touch @DIR@/killed
    wait "$pid"
    exit $?
  fi
fi
exec @WG@ "$@"
`,
    async (wg, dir) => {
      const out = await runCli(["run", "--wg", wg], { clockShift: 300, netns: lab.serverNs });
      if (await Deno.stat(`${dir}/killed`).then(() => true, () => false)) return out;
      assert.strictEqual(out.code, 0, out.log.slice(-2000)); // a call not killed is a normal run
      return null;
    },
  );
}

/**
 * {@link killedRun} at `at` seconds, then, while the call outruns its point,
 * with the peers handshaken again at half the delay (4 tries in all): the
 * peers as they were before the killed run, the delay that killed, the run.
 */
async function killedRunHalving(
  lab: WgLab,
  peers: LoadPeer[],
  call: number,
  at: number,
): Promise<{ before: WgPeer[]; after: number; r: Awaited<ReturnType<typeof runCli>> }> {
  for (let after = at; after > at / 16; after /= 2) {
    const before = (await lab.dump()).peers;
    const r = await killedRun(lab, call, after);
    if (r !== null) return { before, after, r };
    console.log(`wg set call ${call} ended before ${after} s`);
    await handshakeAll(lab, peers);
  }
  assert.fail(`wg set call ${call} always ended before it could be killed`);
}

Deno.test("run purges 1,500 stale PSK peers on a slow kernel with default settings and loses none", async () => {
  assertSlowKernel();
  const { lab } = await stalePskLab(1500);
  try {
    const before = (await lab.dump()).peers;
    assert.strictEqual(
      before.filter((p) => p.endpoint !== null && p.latestHandshake > 0).length,
      1500,
    );
    const started = performance.now();
    // Default settings: no flag but the clock shift that ages the handshakes.
    const r = await runCli(["run"], { clockShift: 300, netns: lab.serverNs });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    assert.strictEqual(r.code, 0, r.log.slice(-2000));
    const after = (await lab.dump()).peers;
    const stale = after.filter((p) => p.endpoint !== null).length;
    assert.strictEqual(after.length, 1500, "0 peers lost");
    assert.deepStrictEqual(lost(before, after), [], "0 configs changed");
    assert.strictEqual(stale, 0, "0 stale endpoints left");
    console.log(
      `slow kernel, 1,500 stale PSK peers: exit ${r.code}, 0 lost, 0 changed, ${stale} stale left, ${seconds} s`,
    );
    console.log(
      `| slow kernel (rcu_normal=1), 1,500 stale PSK peers, default settings (real) | 1 | 1500 | 0 |`,
    );
  } finally {
    await closeFast(lab);
  }
});

Deno.test("wg set killed at several points on a slow kernel loses no peer (a wrapper kills the real wg)", async () => {
  assertSlowKernel();
  const { lab, peers } = await stalePskLab(120);
  try {
    // Which `wg set` call of the cycle is killed, and how far into it. The
    // first call takes 32 peers (~1.3 s here), the second ~2 s of them at the
    // first one's cost. A call can still end before its point under emulation
    // (the second did once in 1.0 s), hence the halving.
    const points: [number, number][] = [[1, 0.3], [1, 0.9], [2, 1.0]];
    for (const [call, at] of points) {
      const { before, after, r } = await killedRunHalving(lab, peers, call, at);
      assert.strictEqual(r.code, 1, "a killed call is reported");
      assert.doesNotMatch(r.log, /could NOT be restored/);
      // The kernel may or may not have applied the rest of the killed call.
      const repaired = r.log.split("\n").filter((l) => / restored$/.test(l)).length;
      const afterKill = (await lab.dump()).peers;
      assert.strictEqual(afterKill.length, 120);
      assert.deepStrictEqual(lost(before, afterKill), [], "0 peers lost");
      console.log(
        `| wg set killed ${after} s into call ${call}, slow kernel (real wg, killed by a wrapper; ${repaired} repaired) | 1 | 120 | 0 |`,
      );
      // The next cycle purges what the killed one left, and nothing is left over.
      const again = await runCli(["run"], { clockShift: 300, netns: lab.serverNs });
      assert.strictEqual(again.code, 0, again.log.slice(-2000));
      assert.strictEqual((await lab.dump()).peers.filter((p) => p.endpoint !== null).length, 0);
      await handshakeAll(lab, peers);
    }
  } finally {
    await closeFast(lab);
  }
});
