/**
 * Integration test bodies that run on both WireGuard implementations: each
 * takes the implementation, builds its own lab and drives the real CLI. The
 * lab tier runs them on wireguard-go (tests/lab/both_impl_test.ts), the
 * kernel tier on the kernel module in the VM (tests/kernel/both_impl_test.ts),
 * as wireguard-go runs one test body over several transports.
 *
 * @module
 */
import assert from "node:assert/strict";
import { CliProcess, runCli } from "../harness/cli.ts";
import { generatePsk } from "../harness/initiator.ts";
import { type LoadPeer, type WgImpl, WgLab } from "../harness/lab.ts";
import { REPLAY_WINDOW_S } from "../../src/purge/plan.ts";
import { REPLAY_POLL_S } from "../../src/purge/schedule.ts";
import { buildMixedServer, configOf, protectionFlags } from "../harness/scenario.ts";
import { waitForFile, withWrapper } from "./wrappers.ts";

/** `wg show IFACE dump` peer lines as wg printed them, by public key, columns split. */
export async function rawPeers(lab: WgLab): Promise<Map<string, string[]>> {
  const lines = (await lab.wg("show", lab.iface, "dump")).trimEnd().split("\n").slice(1);
  return new Map(lines.map((line) => [line.split("\t")[0], line.split("\t")]));
}

/** The dump columns a purge must keep byte for byte: key, PSK, allowed-ips, keepalive. */
const CONFIG_COLUMNS = [0, 1, 3, 7];
const ENDPOINT = 2;
const HANDSHAKE = 4;
const RX = 5;
const TX = 6;

const pick = (cols: string[], which: number[]) => which.map((i) => cols[i]);

/** Names a scenario for a test: `<what> (<implementation>)`. */
export function scenarioName(what: string, impl: WgImpl): string {
  return `${what} (${impl === "go" ? "wireguard-go" : "kernel WireGuard"})`;
}

/**
 * The purge on a mixed server: stale clients (PSK, IPv6 endpoint, keepalive,
 * several v4 and v6 ranges) lose their endpoint and nothing else, byte for
 * byte; the excluded, the site-to-site, the idle and the half-open peers are
 * untouched. Then a purged client passes traffic again. Returns what the
 * purge reset, for the README's table.
 */
export async function purgeKeepsConfigurations(impl: WgImpl): Promise<void> {
  const lab = await WgLab.start({ impl });
  try {
    const s = await buildMixedServer(lab);
    const before = await rawPeers(lab);
    const stale = new Set(s.stale.map((c) => c.keys.publicKey));
    const orderBefore = [...before.keys()];
    const r = await runCli(["run", "-i", lab.iface, ...protectionFlags(s)], {
      clockShift: 300,
      netns: lab.serverNs,
    });
    assert.strictEqual(r.code, 0, r.log);
    assert.match(r.log, /7 peers checked, 3 purged \(stale=3\)/);
    const after = await rawPeers(lab);
    assert.deepStrictEqual([...after.keys()].sort(), orderBefore.slice().sort(), "no peer lost");
    for (const [key, was] of before) {
      const now = after.get(key)!;
      assert.deepStrictEqual(pick(now, CONFIG_COLUMNS), pick(was, CONFIG_COLUMNS), "config kept");
      if (stale.has(key)) {
        // What a purge resets: endpoint, handshake and the transfer counters.
        assert.deepStrictEqual(pick(now, [ENDPOINT, HANDSHAKE, RX, TX]), ["(none)", "0", "0", "0"]);
      } else {
        assert.deepStrictEqual(pick(now, [ENDPOINT, HANDSHAKE]), pick(was, [ENDPOINT, HANDSHAKE]));
      }
    }
    assert.ok(s.psk.allowedIps.length >= 3 && before.get(s.psk.keys.publicKey)![1] !== "(none)");
    // The kernel lists peers in the order they were added: a re-added peer
    // moves to the end, the purged ones in the order the purge chose (at
    // random). wireguard-go keeps them in a map, in no fixed order.
    const orderAfter = [...after.keys()];
    if (impl === "kernel") {
      const kept = orderBefore.filter((k) => !stale.has(k));
      assert.deepStrictEqual(orderAfter.slice(0, kept.length), kept);
      assert.deepStrictEqual(new Set(orderAfter.slice(kept.length)), stale);
    }
    // Its session is gone on the server: the client, whose own session is
    // still fresh, keeps sending on it until it gives up and handshakes anew
    // (about 15 s on both implementations).
    const started = performance.now();
    await lab.pingUntilAnswered(s.psk, 60_000);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const back = (await rawPeers(lab)).get(s.psk.keys.publicKey)!;
    assert.notStrictEqual(back[ENDPOINT], "(none)");
    assert.ok(Number(back[HANDSHAKE]) > Number(before.get(s.psk.keys.publicKey)![HANDSHAKE]));
    assert.deepStrictEqual(
      pick(back, CONFIG_COLUMNS),
      pick(before.get(s.psk.keys.publicKey)!, CONFIG_COLUMNS),
    );
    console.log(
      `${impl}: purged client with a fresh session passed traffic again after ${seconds} s`,
    );
  } finally {
    await lab.close();
  }
}

/**
 * A handshake initiation captured before a purge is answered once replayed
 * after it: the re-added peer has no record of the last initiation's
 * timestamp. The server stores the replayer's address as the endpoint, with
 * no handshake. Before the purge the same replay is ignored. The daemon that
 * purged the peer forgets that endpoint again within REPLAY_WINDOW_S and a
 * look for replays (REPLAY_POLL_S).
 */
export async function replayAfterPurge(impl: WgImpl): Promise<void> {
  const lab = await WgLab.start({ impl });
  let daemon: CliProcess | null = null;
  try {
    const [victim] = await lab.handshakeMany([{ psk: true }]);
    assert.ok(victim.result.ok && victim.result.initiation !== undefined);
    const key = victim.keys.publicKey;
    const endpointOf = async () => (await rawPeers(lab)).get(key)![ENDPOINT];
    const original = await endpointOf();

    assert.strictEqual(await lab.replay(victim.result.initiation!, 30_001), false);
    assert.strictEqual(await endpointOf(), original, "a replay before the purge is ignored");

    // A short stale-after: the handshake predates the daemon, which purges it
    // once it has watched it that long.
    daemon = new CliProcess(
      ["daemon", "-i", lab.iface, ...FORCED_STALE_AFTER(3), "--log-level", "debug"],
      { netns: lab.serverNs },
    );
    await daemon.waitFor(/purged peer .*: stale$/m, 60_000);
    assert.strictEqual(await endpointOf(), "(none)");

    assert.strictEqual(await lab.replay(victim.result.initiation!, 30_002), true);
    // Answered: the endpoint is set by now (in the VM, starting the replayer takes seconds).
    const replayedAt = Date.now();
    const replayed = (await rawPeers(lab)).get(key)!;
    assert.match(replayed[ENDPOINT], /:30002$/, "the replayer's address is stored");
    assert.strictEqual(replayed[HANDSHAKE], "0", "no handshake completes");

    // The daemon takes it for a replay and forgets it.
    while ((await endpointOf()) !== "(none)") {
      assert.ok(Date.now() - replayedAt < 60_000, "the replayed endpoint stays");
      await new Promise((r) => setTimeout(r, 100));
    }
    const goneAfter = (Date.now() - replayedAt) / 1000;
    // Logged once the cycle has verified its purge: a moment after the endpoint went.
    await daemon.waitFor(/purged peer .*: endpoint from an unconfirmed initiation$/m);
    console.log(`${impl}: a replayed endpoint was gone ${goneAfter.toFixed(1)} s after the replay`);
    assert.ok(goneAfter <= REPLAY_WINDOW_S + REPLAY_POLL_S + 1, `${goneAfter} s`);
  } finally {
    await daemon?.stop();
    await lab.close();
  }
}

/**
 * How late a timer may fire, and a process may see the wall clock, on a busy
 * host: more in the kernel tier's VM, which is emulated (TCG).
 */
const TIMER_SLACK_S = { go: 0.25, kernel: 0.75 } as const satisfies Record<WgImpl, number>;

/**
 * Seconds between two clients' handshakes in the deadline scenario: more
 * than the longest cycle (up to 3.9 s seen under emulation), so that no deadline
 * falls inside another's cycle.
 */
const STAGGER_S = { go: 2, kernel: 5 } as const satisfies Record<WgImpl, number>;

/** `--stale-after S` below 180, which needs the force. */
const FORCED_STALE_AFTER = (s: number) => ["--stale-after", String(s), "--force-short-threshold"];

/**
 * The deadline daemon: idle (no endpoint anywhere), it reads the interface
 * once per stale-after; then real clients that complete a handshake at
 * staggered times and go silent each lose their endpoint within a second of
 * their deadline (latest handshake + stale-after), plus one cycle, and never
 * before it. Returns nothing; prints the figures.
 */
export async function deadlineDaemon(impl: WgImpl): Promise<void> {
  const STALE_AFTER = 10;
  const CLIENTS = 20;
  const lab = await WgLab.start({ impl });
  try {
    const peers = await lab.addLoadPeers(Array.from({ length: CLIENTS }, () => ({ psk: true })));
    await withWrapper(
      `#!/bin/bash
# Not a fake: the real wg, each call written down.
echo "$1" >> @DIR@/calls
exec @WG@ "$@"
`,
      async (wg, dir) => {
        const daemon = new CliProcess(
          ["daemon", "-i", lab.iface, "--wg", wg, ...FORCED_STALE_AFTER(STALE_AFTER)],
          { netns: lab.serverNs },
        );
        try {
          // Idle: peers, but no endpoint. Reads at 0, S + 1 and 2 S + 2, counted from the
          // first (under emulation the daemon takes seconds to start).
          await waitForFile(`${dir}/calls`, 60_000);
          const idleSeconds = 2 * (STALE_AFTER + 1) + 1;
          await new Promise((r) => setTimeout(r, idleSeconds * 1000));
          const idleReads = (await Deno.readTextFile(`${dir}/calls`)).split("\n")
            .filter((l) => l === "show").length;
          console.log(
            `${impl}: idle, the daemon read the interface ${idleReads} times in ${idleSeconds} s`,
          );
          assert.ok(idleReads >= 2 && idleReads <= 3, `${idleReads} reads`);

          const cyclesMs = () =>
            [...daemon.log.matchAll(/cycle done in (\d+) ms/g)].map((m) => Number(m[1]));
          const lingers = await staggeredLingers(lab, peers, STALE_AFTER, STAGGER_S[impl]).catch(
            (error) => {
              console.log(
                `${impl}: the cycles that left a line took (ms): ${cyclesMs().join(" ")}`,
              );
              throw error;
            },
          );
          await daemon.stop();
          const cycles = cyclesMs();
          const longest = Math.max(...cycles) / 1000;
          const sorted = [...lingers.map((l) => l.linger)].sort((a, b) => a - b);
          console.log(
            `${impl}: ${CLIENTS} clients idle at staggered times: linger past the deadline ` +
              `${sorted[0].toFixed(2)}–${sorted.at(-1)!.toFixed(2)} s (median ` +
              `${sorted[CLIENTS >> 1].toFixed(2)} s), each seen within ` +
              `${Math.max(...lingers.map((l) => l.seenWithin)).toFixed(2)} s; ${cycles.length} ` +
              `cycles, the longest ${longest.toFixed(3)} s`,
          );
          for (const { linger, seenWithin } of lingers) {
            // Never before the deadline's second has passed (WireGuard rounds a handshake
            // down to the second); at most a second after it, plus a cycle, plus how late
            // this test may have seen it, plus a timer's slack.
            assert.ok(linger >= 1, `purged ${linger} s after its deadline`);
            assert.ok(
              linger <= 1 + longest + seenWithin + TIMER_SLACK_S[impl],
              `gone ${linger} s after its deadline`,
            );
          }
        } finally {
          await daemon.stop();
        }
      },
    );
  } finally {
    await lab.close();
  }
}

/**
 * Completes a handshake for each peer, `staggerS` apart, then watches the interface
 * until every endpoint is gone: for each, how long after its deadline
 * (latest handshake + stale-after) it was seen gone, and how long the
 * look that saw it came after the one before.
 */
async function staggeredLingers(
  lab: WgLab,
  peers: readonly LoadPeer[],
  staleAfter: number,
  staggerS: number,
): Promise<{ linger: number; seenWithin: number }[]> {
  const handshakes = new Map<string, number>();
  const gone = new Map<string, { at: number; seenWithin: number }>();
  let last = Date.now();
  const look = async () => {
    const { peers: read } = await lab.dump();
    // Taken after the read: whatever the read shows happened before it.
    const now = Date.now();
    for (const p of read) {
      if (p.endpoint !== null && p.latestHandshake > 0) {
        handshakes.set(p.publicKey, p.latestHandshake);
      }
      if (p.endpoint === null && handshakes.has(p.publicKey) && !gone.has(p.publicKey)) {
        gone.set(p.publicKey, { at: now / 1000, seenWithin: (now - last) / 1000 });
      }
    }
    last = now;
  };
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      await look();
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  try {
    // One process for all: under emulation, starting one per client takes seconds.
    const results = await lab.runHandshakes(peers, peers.length, staggerS * 1000);
    assert.ok(results.every((r) => r.ok), "a handshake each");
    const until = Date.now() + (staleAfter + 30) * 1000;
    while (gone.size < peers.length && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    watching = false;
    await watcher;
  }
  assert.strictEqual(gone.size, peers.length, "every endpoint is forgotten");
  return [...gone].map(([key, g]) => ({
    linger: g.at - (handshakes.get(key)! + staleAfter),
    seenWithin: g.seenWithin,
  }));
}

/**
 * An admin changes peers while a purge runs: what they removed stays
 * removed and what they changed stays as they made it, whether they act
 * before the call that holds the peer or after it finished. `wg` is slowed
 * (a slow kernel) so that the purge spans several calls; the wrapper only
 * slows and observes, it changes nothing.
 */
export async function adminChangesDuringPurge(impl: WgImpl): Promise<void> {
  const lab = await WgLab.start({ impl });
  try {
    const peers = await lab.addLoadPeers(
      Array.from({ length: ADMIN_PEERS }, (_, i) => ({ psk: i % 2 === 0 })),
    );
    const results = await lab.runHandshakes(peers);
    assert.ok(results.every((r) => r.ok));
    const before = (await lab.dump()).peers;
    const pskOf = (key: string) => peers.find((p) => p.keys.publicKey === key)!.psk;
    const withPsk = before.filter((p) => pskOf(p.publicKey) !== null).map((p) => p.publicKey);
    const withoutPsk = before.filter((p) => pskOf(p.publicKey) === null).map((p) => p.publicKey);
    const rotate = async (key: string) => {
      const file = await lab.writeSecret(`rotated-${crypto.randomUUID()}`, generatePsk());
      await lab.wg("set", lab.iface, "peer", key, "preshared-key", file);
    };
    const removed: string[] = [];
    const rotated: string[] = [];

    const r = await withWrapper(SLOW_OBSERVER, async (wg, dir) => {
      const run = runCli(["run", "-i", lab.iface, "--wg", wg], {
        clockShift: 600,
        netns: lab.serverNs,
      });
      // While the first call runs: peers of the last call (in dump order).
      await waitForFile(`${dir}/call-1`, 180_000);
      const first = (await Deno.readTextFile(`${dir}/call-1`)).trim().split("\n");
      const late = [...withPsk, ...withoutPsk].filter((k) => !first.includes(k));
      const lastPsk = withPsk.filter((k) => late.includes(k)).at(-1)!;
      const lastPlain = withoutPsk.filter((k) => late.includes(k)).at(-1)!;
      await lab.wg("set", lab.iface, "peer", lastPlain, "remove");
      await rotate(lastPsk);
      removed.push(lastPlain);
      rotated.push(lastPsk);
      // After the first call finished: two of its own peers.
      await waitForFile(`${dir}/done-1`, 180_000);
      const done = first.filter((k) => withPsk.includes(k));
      await lab.wg("set", lab.iface, "peer", done[0], "remove");
      await rotate(done[1]);
      removed.push(done[0]);
      rotated.push(done[1]);
      const result = await run;
      const calls = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("call-")).length;
      return { ...result, calls };
    });
    assert.strictEqual(r.code, 0, r.log);
    assert.ok(r.calls >= 3, `${r.calls} calls: the purge spans several`);

    const after = new Map((await lab.dump()).peers.map((p) => [p.publicKey, p]));
    for (const key of removed) assert.ok(!after.has(key), "a peer the admin removed stays removed");
    for (const key of rotated) {
      const was = before.find((p) => p.publicKey === key)!;
      assert.notStrictEqual(after.get(key)?.presharedKey, was.presharedKey, "the new key stays");
      assert.ok(after.get(key)?.presharedKey, "it has a key");
    }
    for (const p of before) {
      if (removed.includes(p.publicKey) || rotated.includes(p.publicKey)) continue;
      assert.deepStrictEqual(configOf(after.get(p.publicKey)!), configOf(p), "no other change");
    }
    assert.strictEqual(r.log.match(/removed by someone else/g)?.length, 2, r.log);
    assert.strictEqual(r.log.match(/changed by someone else/g)?.length, 2, r.log);
    console.log(`| admin removes and rotates keys mid-purge (${impl}) | 1 | 4 | 0 reverted |`);
  } finally {
    await lab.close();
  }
}

const ADMIN_PEERS = 120;

const SLOW_OBSERVER = `#!/bin/bash
# Not a fake: each 'wg set' first writes the public keys it holds to
# @DIR@/call-N, then waits 50 ms a peer (a slow kernel's cost), then runs the
# real wg unchanged and marks @DIR@/done-N.
if [ "$1" = set ]; then
  keys=(); prev=""
  for a in "$@"; do
    if [ "$prev" = peer ] && [ "$a" != "\${keys[\${#keys[@]}-1]:-}" ]; then keys+=("$a"); fi
    prev=$a
  done
  n=$(( $(ls @DIR@ | grep -c '^call-') + 1 ))
  printf '%s\\n' "\${keys[@]}" > @DIR@/tmp-$n && mv @DIR@/tmp-$n @DIR@/call-$n
  sleep "$(awk "BEGIN { print \${#keys[@]} * 0.05 }")"
  @WG@ "$@"; code=$?
  touch @DIR@/done-$n
  exit $code
fi
exec @WG@ "$@"
`;

/** Registers every scenario above as a test on `impl`: one call per tier. */
export function testOnImplementation(impl: WgImpl): void {
  Deno.test(
    scenarioName("run forgets stale endpoints, keeps every configuration byte for byte", impl),
    () => purgeKeepsConfigurations(impl),
  );
  Deno.test(
    scenarioName(
      "an initiation replayed after a purge is answered; the daemon forgets it within 20 s",
      impl,
    ),
    () => replayAfterPurge(impl),
  );
  Deno.test(
    scenarioName(
      "the daemon reads an idle interface once per stale-after, and forgets each endpoint " +
        "within a second of its deadline",
      impl,
    ),
    () => deadlineDaemon(impl),
  );
  Deno.test(
    scenarioName(
      "a purge leaves every peer the admin removed or changed meanwhile as they left it",
      impl,
    ),
    () => adminChangesDuringPurge(impl),
  );
}
