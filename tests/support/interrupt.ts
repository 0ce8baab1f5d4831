/**
 * The interrupt scenario, run on wireguard-go (tests/lab/interrupt_test.ts)
 * and on the slow kernel (tests/kernel/interrupt_kernel_test.ts): `run` and
 * every process it started, whatever their process group, are SIGKILLed at
 * once (a cgroup kill: ./cgroup_kill.ts) at a random instant of a large
 * purge, and `run` is then started once, normally, with the same key
 * directory, lock directory and status file. After each instant every peer
 * must be there with the allowed-ips, preshared key and keepalive it had at
 * the start, and must complete a real handshake, which also makes it stale
 * for the next instant (the CLI's clock is shifted).
 *
 * Each instant is reported on a line of its own, with the peers lost (gone),
 * changed (another configuration) and without a handshake (configuration
 * intact, but it cannot complete a handshake, as a wireguard-go peer whose
 * `wg set` stream was cut before it was started); a peer that failed is put
 * back by the test (remove and re-add, with its original configuration) so
 * that the instants stay independent, and the test fails at the end with the
 * totals.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type CliOptions, runCli } from "../harness/cli.ts";
import type { LoadPeer, LoadPeerSpec, WgLab } from "../harness/lab.ts";
import { configOf } from "../harness/scenario.ts";
import type { WgPeer } from "../../src/wg/dump.ts";
import { KillableCli } from "./cgroup_kill.ts";
import { withWrapper } from "./wrappers.ts";

/** Seconds the CLI's clock is moved forward: every handshake of the lab is stale. */
export const CLOCK_SHIFT = 600;

/** PSK peers, every third with a server-side keepalive. */
export function interruptPeerSpecs(count: number): LoadPeerSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    psk: true,
    keepalive: i % 3 === 0 ? 25 : undefined,
  }));
}

/** How the scenario runs. */
export interface InterruptOptions {
  /** Instants at which the kill must find the purge still running. */
  instants: number;
  /** The fault, as the table row names it. */
  fault: string;
  /** How the handshakes are run. */
  handshakes?: HandshakeOptions;
  /** Seed of the instants; default a random one (printed, and read from WR_INTERRUPT_SEED). */
  seed?: number;
}

/** When a purge makes its `wg set` calls, in ms after the CLI was started. */
interface PurgeWindow {
  /** The first `wg set` started. */
  startMs: number;
  /** The last `wg set` ended. */
  endMs: number;
  calls: number;
}

/** What one instant did. */
interface Instant {
  atMs: number;
  /** The kill found the run still going. */
  hit: boolean;
  /** The exit status of the next start. */
  nextCode: number;
  /** The processes the kill ended. */
  killed: string[];
  purgedAtKill: number;
  lost: string[];
  changed: string[];
  noHandshake: string[];
}

/** A small seeded generator (mulberry32), so that a run's instants can be drawn again. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A directory on tmpfs, as /run is on real systems (this host's /run is on disk). */
async function stateDir(): Promise<string> {
  const mounts = await Deno.readTextFile("/proc/self/mountinfo");
  const shm = mounts.split("\n").some((l) => / \/dev\/shm .* - tmpfs /.test(l));
  return await Deno.makeTempDir({ dir: shm ? "/dev/shm" : undefined, prefix: "wr-interrupt-" });
}

type Config = ReturnType<typeof configOf>;

/** Configurations by public key. */
function configs(peers: readonly WgPeer[]): Map<string, Config> {
  return new Map(peers.map((p) => [p.publicKey, configOf(p)]));
}

/** What differs between two configurations of a peer, its preshared key named but never shown. */
function difference(was: Config, now: Config): string {
  const out: string[] = [];
  if (now.presharedKey !== was.presharedKey) {
    out.push(now.presharedKey === null ? "preshared key gone" : "another preshared key");
  }
  if (JSON.stringify(now.allowedIps) !== JSON.stringify(was.allowedIps)) {
    out.push(
      `allowed-ips ${was.allowedIps.join(",") || "none"} -> ${now.allowedIps.join(",") || "none"}`,
    );
  }
  if (now.persistentKeepalive !== was.persistentKeepalive) {
    out.push(`keepalive ${was.persistentKeepalive} -> ${now.persistentKeepalive}`);
  }
  return out.join(", ");
}

/**
 * Runs one whole purge through an observing wrapper (the real wg, timed):
 * when its first `wg set` call started and its last ended. Every peer is
 * then purged, and must handshake again.
 */
async function measurePurge(
  lab: WgLab,
  args: string[],
  options: CliOptions,
  peers: readonly LoadPeer[],
): Promise<PurgeWindow> {
  return await withWrapper(
    `#!/bin/bash
# Not a fake: the real wg, with the start and end of each 'wg set' written down.
if [ "$1" = set ]; then
  date +%s%3N >> @DIR@/starts
  @WG@ "$@"
  code=$?
  date +%s%3N >> @DIR@/ends
  exit "$code"
fi
exec @WG@ "$@"
`,
    async (wg, dir) => {
      const started = Date.now();
      const r = await runCli([...args, "--wg", wg], options);
      assert.strictEqual(r.code, 0, r.log.slice(-2000));
      const purged = (await lab.dump()).peers.filter((p) => p.endpoint === null).length;
      assert.strictEqual(purged, peers.length, "the purge that measures purged every peer");
      const times = async (name: string) =>
        (await Deno.readTextFile(`${dir}/${name}`)).trim().split("\n").map((t) =>
          Number(t) - started
        );
      const ends = await times("ends");
      return { startMs: (await times("starts"))[0], endMs: Math.max(...ends), calls: ends.length };
    },
  );
}

/** Removes and re-adds `peers` with their original configuration: the test's own repair. */
async function putBack(lab: WgLab, peers: readonly LoadPeer[]): Promise<void> {
  for (let i = 0; i < peers.length; i += 100) {
    const args: string[] = [];
    for (const p of peers.slice(i, i + 100)) {
      const key = p.keys.publicKey;
      args.push("peer", key, "remove", "peer", key, "allowed-ips", p.allowedIps.join(","));
      if (p.psk) {
        args.push("preshared-key", await lab.writeSecret(`back-${crypto.randomUUID()}.psk`, p.psk));
      }
      if (p.keepalive) args.push("persistent-keepalive", String(p.keepalive));
    }
    await lab.wg("set", lab.iface, ...args);
  }
}

/** How handshakes are run. */
export interface HandshakeOptions {
  /** Initiator processes side by side: each is one JavaScript thread. Default 1. */
  initiators?: number;
  /** Concurrent handshakes in each. Default 16. */
  concurrency?: number;
}

/**
 * Handshakes every peer; returns the public keys of those that failed twice
 * (a peer that fails once is tried again on its own: a server under load may
 * let an initiation go unanswered).
 */
export async function handshakeFailures(
  lab: WgLab,
  peers: readonly LoadPeer[],
  options: HandshakeOptions = {},
): Promise<string[]> {
  const initiators = Math.min(options.initiators ?? 1, Math.max(peers.length, 1));
  let failed = peers;
  for (let round = 0; round < 2 && failed.length > 0; round++) {
    const parts = Array.from(
      { length: Math.min(initiators, failed.length) },
      (_, i) => failed.filter((_, j) => j % initiators === i),
    );
    const results = await Promise.all(
      parts.map((part) => lab.runHandshakes(part, options.concurrency ?? 16)),
    );
    failed = parts.flatMap((part, i) => part.filter((_, j) => !results[i][j].ok));
  }
  return failed.map((p) => p.keys.publicKey);
}

const damage = (i: Instant) => i.lost.length + i.changed.length + i.noHandshake.length;

const short = (keys: readonly string[]) => keys.map((k) => k.slice(0, 8)).join(" ");

/**
 * Kills `run` with everything it started at random instants of a purge of
 * `peers` (which have all completed a handshake), each followed by one normal
 * start; fails unless every instant lost, changed and stopped none of them.
 * Prints a line per instant and the fault table's row.
 */
export async function killAtRandomInstants(
  lab: WgLab,
  peers: readonly LoadPeer[],
  options: InterruptOptions,
): Promise<void> {
  const handshakes = options.handshakes ?? {};
  const given = options.seed ?? Number(Deno.env.get("WR_INTERRUPT_SEED") ?? "0");
  const seed = given || crypto.getRandomValues(new Uint32Array(1))[0];
  const draw = random(seed);
  const original = configs((await lab.dump()).peers);
  assert.strictEqual(original.size, peers.length);
  const byKey = new Map(peers.map((p) => [p.keys.publicKey, p]));
  const dir = await stateDir();
  const args = [
    "run",
    "-i",
    lab.iface,
    "--key-dir",
    dir,
    "--lock-dir",
    dir,
    "--status-file",
    `${dir}/status.json`,
  ];
  const cli: CliOptions = { clockShift: CLOCK_SHIFT, netns: lab.serverNs };
  const instants: Instant[] = [];
  try {
    const window = await measurePurge(lab, args, cli, peers);
    console.log(
      `a purge of the ${peers.length} peers: ${window.calls} wg set calls, the first started ` +
        `${window.startMs} ms after the start, the last ended at ${window.endMs} ms; instants ` +
        `drawn in that span (ended earlier by an instant that finds every peer purged), ` +
        `seed ${seed}`,
    );
    assert.deepStrictEqual(await handshakeFailures(lab, peers, handshakes), []);
    const most = options.instants + 10;
    while (instants.filter((i) => i.hit).length < options.instants) {
      assert.ok(
        instants.length < most,
        `the purge was over at ${most - options.instants} instants`,
      );
      const instantStarted = performance.now();
      const atMs = Math.round(window.startMs + draw() * (window.endMs - window.startMs));
      const run = await KillableCli.start(args, cli);
      await new Promise((r) => setTimeout(r, atMs));
      const { killed, status } = await run.kill();
      const purgedAtKill = (await lab.dump()).peers.filter((p) => p.endpoint === null).length;
      const started = performance.now();
      const next = await runCli(args, cli);
      const nextMs = Math.round(performance.now() - started);
      assert.doesNotMatch(next.log, /internal error/, next.log.slice(-2000));
      const now = configs((await lab.dump()).peers);
      const lost = [...original.keys()].filter((k) => !now.has(k));
      const changed = [...original.keys()].filter((k) =>
        now.has(k) && difference(original.get(k)!, now.get(k)!) !== ""
      );
      const failed = await handshakeFailures(lab, peers, handshakes);
      const noHandshake = failed.filter((k) => !lost.includes(k) && !changed.includes(k));
      const instant: Instant = {
        atMs,
        hit: status.signal === "SIGKILL",
        nextCode: next.code,
        killed,
        purgedAtKill,
        lost,
        changed,
        noHandshake,
      };
      instants.push(instant);
      // Purges vary: an instant that found every call made ends the span.
      if (!instant.hit || purgedAtKill === peers.length) {
        window.endMs = Math.max(window.startMs, Math.min(window.endMs, atMs));
      }
      const n = instants.filter((i) => i.hit).length;
      console.log(
        `instant ${instant.hit ? `${n}/${options.instants}` : "(missed: the run had ended)"} at ` +
          `${atMs} ms: killed ${killed.join(",") || "nothing"}; ${purgedAtKill} purged by then; ` +
          `next start exit ${next.code} in ${(nextMs / 1000).toFixed(1)} s; ${lost.length} lost, ` +
          `${changed.length} changed, ${noHandshake.length} no handshake` +
          (damage(instant) > 0 ? ` (${short([...lost, ...changed, ...noHandshake])})` : "") +
          `; ${((performance.now() - instantStarted) / 1000).toFixed(0)} s in all`,
      );
      for (const k of changed) {
        console.log(`  ${k.slice(0, 8)}: ${difference(original.get(k)!, now.get(k)!)}`);
      }
      if (next.code !== 0) console.log(next.stderr.trim().split("\n").slice(-3).join("\n"));
      const bad = [...new Set([...lost, ...changed, ...failed])].map((k) => byKey.get(k)!);
      if (bad.length > 0) {
        // Put back by the test, so that the next instant starts whole.
        await putBack(lab, bad);
        assert.deepStrictEqual(await handshakeFailures(lab, bad, handshakes), []);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const hits = instants.filter((i) => i.hit);
  const sum = (f: (i: Instant) => number) => instants.reduce((s, i) => s + f(i), 0);
  const totals = {
    lost: sum((i) => i.lost.length),
    changed: sum((i) => i.changed.length),
    noHandshake: sum((i) => i.noHandshake.length),
    failedNextStarts: instants.filter((i) => i.nextCode !== 0).length,
  };
  const inCall = hits.filter((i) => i.killed.length > 1).length;
  console.log(
    `instants (ms after the start): ${instants.map((i) => i.atMs).join(" ")}; ` +
      `${inCall} of ${hits.length} killed a wg call under way; ` +
      `${instants.filter((i) => damage(i) > 0).length} instants lost, changed or stopped peers; ` +
      `${totals.failedNextStarts} next starts exited non-zero`,
  );
  console.log(
    `| ${options.fault} | ${hits.length} | ${peers.length} | ${totals.lost} | ${totals.changed} | ${totals.noHandshake} |`,
  );
  assert.ok(inCall > 0, "no instant fell inside a wg call");
  assert.deepStrictEqual(totals, { lost: 0, changed: 0, noHandshake: 0, failedNextStarts: 0 });
}
