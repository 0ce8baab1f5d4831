/**
 * The scale benchmark: a wireguard-go server with N handshaked peers (half
 * of them with a preshared key, a third with a keepalive), measured with the
 * tool's clock shifted so that every peer is stale. Prints a table; asserts
 * nothing. Run as root: `deno task bench` (or `bash scripts/bench.sh`).
 *
 * (a) wall time of one `run` that purges all N, verify read included
 * (b) wall time of a `run` when nothing is stale, against one bare
 *     `wg show dump` plus the runtime's start-up (`deno run` of an empty file)
 * (c) the floor: scripts/bench_floor.sh (dump, batched wg set, verify dump)
 * (d) the daemon's peak RSS during a purge of all N, and its idle RSS
 * (e) `wg` processes per cycle, counted by a PATH wrapper
 *
 * Options: --peers 1000,10000 --runs 5
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cliCommand, CliProcess } from "../tests/support/cli.ts";
import { labAvailable, type LoadPeer, sh, WgLab } from "../tests/support/lab.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    peers: { type: "string", default: "1000,10000" },
    runs: { type: "string", default: "5" },
  },
});
const SIZES = values.peers.split(",").map(Number);
const RUNS = Number(values.runs);
const SHIFT = 600;
// A smaller V8 young generation, measured for comparison (see docs/benchmarks.md).
const SMALL_YOUNG_GEN = "--max-semi-space-size=1";
const FLOOR = new URL("./bench_floor.sh", import.meta.url).pathname;

interface Stats {
  median: number;
  min: number;
  max: number;
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1] };
}

const fmt = (s: Stats, digits = 0) =>
  `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;

async function timed(
  cmd: string[],
  env?: Record<string, string>,
): Promise<{ ms: number; stdout: string }> {
  const started = performance.now();
  const r = await sh(cmd, { env });
  return { ms: performance.now() - started, stdout: r.stdout };
}

async function restale(lab: WgLab, peers: LoadPeer[]): Promise<void> {
  const results = await lab.runHandshakes(peers);
  const failed = results.filter((r) => !r.ok).length;
  if (failed > 0) throw new Error(`${failed} handshakes failed`);
}

async function procStatus(pid: number, field: string): Promise<number> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)![1]) / 1024;
}

async function daemonRss(lab: WgLab, v8Flags?: string): Promise<{ peak: number; idle: number }> {
  // The daemon purges only what it has watched for stale-after on its
  // monotonic clock: run that clock fast and cycle every second, so the
  // second cycle purges everything.
  const daemon = new CliProcess(["daemon", "-i", lab.iface, "--interval", "1"], {
    clockShift: SHIFT,
    monotonicSpeed: 1000,
    v8Flags,
  });
  try {
    await daemon.waitFor(
      /cycle (done|FAILED) in \d+ ms: \d+ peers checked, [1-9]\d* purged/,
      300_000,
    );
    const peak = await procStatus(daemon.child.pid, "VmHWM");
    await new Promise((r) => setTimeout(r, 3000));
    const idle = await procStatus(daemon.child.pid, "VmRSS");
    return { peak, idle };
  } finally {
    await daemon.stop();
  }
}

async function benchSize(n: number): Promise<string[]> {
  const lab = await WgLab.start();
  const wrapperDir = await Deno.makeTempDir({ prefix: "wr-bench-" });
  try {
    console.error(`N=${n}: configuring peers and handshaking`);
    const peers = await lab.addLoadPeers(
      Array.from(
        { length: n },
        (_, i) => ({ psk: i % 2 === 0, keepalive: i % 3 === 0 ? 25 : undefined }),
      ),
    );
    const realWg = (await sh(["sh", "-c", "command -v wg"])).stdout.trim();
    const callLog = `${wrapperDir}/calls`;
    await Deno.writeTextFile(
      `${wrapperDir}/wg`,
      `#!/bin/sh\n# Counting wrapper: logs the subcommand, then runs the real wg.\necho "$1" >> '${callLog}'\nexec '${realWg}' "$@"\n`,
      { mode: 0o755 },
    );

    const a: number[] = [], cycle: number[] = [], c: number[] = [], spawns: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      console.error(`N=${n}: run ${run}/${RUNS}`);
      await restale(lab, peers);
      await Deno.writeTextFile(callLog, "");
      const { cmd, env } = cliCommand(["run", "-i", lab.iface, "--json"], {
        clockShift: SHIFT,
        pathPrefix: wrapperDir,
      });
      const t = await timed(cmd, env);
      const report = JSON.parse(t.stdout);
      if (report.interfaces[0].purged.length !== n || !report.ok) {
        throw new Error("run did not purge all peers");
      }
      a.push(t.ms);
      cycle.push(report.durationMs);
      spawns.push((await Deno.readTextFile(callLog)).trim().split("\n").length);
      await restale(lab, peers);
      c.push((await timed(["bash", FLOOR, lab.iface])).ms);
      if ((await lab.dump()).peers.some((p) => p.endpoint !== null)) {
        throw new Error("floor did not purge");
      }
    }

    console.error(`N=${n}: nothing stale`);
    await restale(lab, peers);
    const b: number[] = [], dump: number[] = [], startup: number[] = [];
    const empty = `${wrapperDir}/empty.ts`;
    await Deno.writeTextFile(empty, "");
    for (let run = 1; run <= RUNS; run++) {
      const { cmd, env } = cliCommand(["run", "-i", lab.iface, "--json"]);
      const t = await timed(cmd, env);
      if (JSON.parse(t.stdout).interfaces[0].purged.length !== 0) {
        throw new Error("purged an active peer");
      }
      b.push(t.ms);
      dump.push((await timed(["wg", "show", lab.iface, "dump"])).ms);
      startup.push((await timed([Deno.execPath(), "run", empty])).ms);
    }

    console.error(`N=${n}: daemon RSS`);
    const peak: number[] = [],
      idle: number[] = [],
      peakSmall: number[] = [],
      idleSmall: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      await restale(lab, peers);
      const rss = await daemonRss(lab);
      peak.push(rss.peak);
      idle.push(rss.idle);
      await restale(lab, peers);
      const small = await daemonRss(lab, SMALL_YOUNG_GEN);
      peakSmall.push(small.peak);
      idleSmall.push(small.idle);
    }

    const ratios = a.map((x, i) => x / c[i]);
    const floorB = stats(dump).median + stats(startup).median;
    return [
      `| ${n} | (a) run, all stale: wall ms | ${fmt(stats(a))} |`,
      `| ${n} | (a) the cycle itself (report durationMs) | ${fmt(stats(cycle))} |`,
      `| ${n} | (c) floor script: wall ms | ${fmt(stats(c))} |`,
      `| ${n} | (a)/(c), same run | ${fmt(stats(ratios), 2)} |`,
      `| ${n} | (b) run, nothing stale: wall ms | ${fmt(stats(b))} |`,
      `| ${n} | bare wg show dump: ms | ${fmt(stats(dump))} |`,
      `| ${n} | deno run of an empty file: ms | ${fmt(stats(startup))} |`,
      `| ${n} | (b) / (dump + start-up) | ${(stats(b).median / floorB).toFixed(2)} |`,
      `| ${n} | (d) daemon peak RSS during the purge: MB | ${fmt(stats(peak), 1)} |`,
      `| ${n} | (d) daemon idle RSS after it: MB | ${fmt(stats(idle), 1)} |`,
      `| ${n} | (d) same, V8 ${SMALL_YOUNG_GEN}: peak MB | ${fmt(stats(peakSmall), 1)} |`,
      `| ${n} | (d) same, V8 ${SMALL_YOUNG_GEN}: idle MB | ${fmt(stats(idleSmall), 1)} |`,
      `| ${n} | (e) wg processes per cycle | ${fmt(stats(spawns))} |`,
    ];
  } finally {
    await lab.close();
    await Deno.remove(wrapperDir, { recursive: true });
  }
}

if (!(await labAvailable())) {
  console.error("bench: needs root, ip, wg and wireguard-go (bash scripts/bench.sh installs them)");
  Deno.exit(1);
}
const rows: string[] = [];
for (const n of SIZES) rows.push(...await benchSize(n));
console.log(`runs per figure: ${RUNS}; median (min–max)`);
console.log("| peers | measure | value |");
console.log("| --- | --- | --- |");
for (const row of rows) console.log(row);
