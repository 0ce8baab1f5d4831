/**
 * Part (w) of the benchmark: the deadline daemon at scale. A WireGuard
 * server with N peers, the shipped daemon started before any handshake, a
 * real handshake for every peer, then nothing: each peer's deadline
 * (latest handshake + stale-after + 1) passes in the order the handshakes
 * were made, and the daemon should forget each endpoint about then. It
 * measures how far behind it falls as N grows (the linger histogram of its
 * metrics file, the span of its purging cycles) and what it costs (its CPU
 * time from /proc while it purges, while it watches the purged peers for
 * replays, and at rest).
 *
 * Never prints a key, an endpoint or one peer's time: only counts, sums and
 * spans over all N.
 *
 * @module
 */
import { CliProcess } from "../../tests/harness/cli.ts";
import type { LoadPeer, WgLab } from "../../tests/harness/lab.ts";
import { sh } from "../../tests/harness/sh.ts";

/** How to run one N of part (w). */
export interface DeadlineOptions {
  /** Peers on the server, all handshaked once. */
  peers: number;
  /** The daemon's `--stale-after`, or `auto`: from timed handshakes ({@link benchDeadline}). */
  staleAfter: number | "auto";
  /** The bundle's entry, run with `v8Flags`: the program as it ships. */
  entry: string;
  /** The shipped V8 flags. */
  v8Flags: string;
  /** A directory of root's own on a tmpfs: the daemon's key, lock, status and metrics files. */
  runDir: string;
}

/** What one N of part (w) measured; seconds unless named otherwise. */
export interface DeadlineResult {
  peers: number;
  staleAfter: number;
  /** Handshaking outlasted stale-after: purges began before all N were handshaked. */
  late: boolean;
  /** Wall time of handshaking all N. */
  handshakeSeconds: number;
  /** Latest minus earliest latest-handshake over the N peers (whole seconds, as wg reports). */
  spread: number;
  /** Peers whose handshake did not complete (they have no deadline). */
  failed: number;
  /** Median duration (ms) of the cycles that purged nothing after the last purge: one read. */
  readMs: number;
  /** Median wall time (ms) of a bare `wg show IFACE dump`, for comparison. */
  dumpMs: number;
  /** Cycles that purged at least one peer, and their durations (ms). */
  purgingCycles: number[];
  /** Cycles that failed, from the first handshake to the end. */
  cyclesFailed: number;
  /** From the first deadline to the end of the last purging cycle. */
  window: number;
  /** The linger histogram: quantile bucket bounds (Infinity: above the last), mean, count. */
  linger: { p50: number; p99: number; max: number; mean: number; count: number };
  /** The daemon's share of one core (%), own and with its `wg` children, by phase. */
  cpu: {
    purge: CpuShare;
    replayWatch: CpuShare;
    idle: CpuShare;
  };
  /** CPU ms of the daemon and its `wg` processes per read at rest. */
  idleCpuMsPerRead: number;
  /** Peak and resting RSS of the daemon (MB). */
  peakRssMb: number;
  idleRssMb: number;
}

/** A share of one core in percent: the process itself, and with its waited-for children. */
export interface CpuShare {
  own: number;
  withChildren: number;
}

/**
 * Load peers send from ports 20000–65535 (tests/harness/lab.ts numbers them
 * from 20000, one each), so past this many the rest need another source
 * address: wireguard-go's 65,536 peers do not fit on one.
 */
const PORTS_PER_ADDRESS = 65_536 - 20_000;

/** Peers handshaked before the daemon starts, to time the handshakes for `auto`. */
const SAMPLE = 400;

/** Reads at rest over which the daemon's idle CPU share is taken. */
const IDLE_READS = 2;

/** How often the daemon's log is read while waiting (it is small: one line per cycle). */
const POLL_MS = 500;

/** A cycle's summary line (`cycle done in N ms: …`), from the daemon's JSON log. */
interface CycleLine {
  /** Unix seconds the line was written: the cycle's end. */
  at: number;
  ok: boolean;
  durationMs: number;
  checked: number;
  purged: number;
}

/** The summary lines among JSON log lines (other lines and partial ones are skipped). */
function cycleLines(log: string): CycleLine[] {
  const out: CycleLine[] = [];
  for (const line of log.split("\n")) {
    if (!line.startsWith("{")) continue;
    let record;
    try {
      record = JSON.parse(line);
    } catch {
      continue; // a line still being written
    }
    if (!/^cycle (done|FAILED) in /.test(record.message ?? "")) continue;
    const p = record.properties;
    out.push({
      at: Date.parse(record["@timestamp"]) / 1000,
      ok: p.result === "done",
      durationMs: p.durationMs,
      checked: p.checked,
      purged: p.purged,
    });
  }
  return out;
}

/** CPU seconds of a process (utime+stime) and of its waited-for children besides. */
async function cpuSeconds(pid: number, tick: number): Promise<{ own: number; all: number }> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the command name, which may hold spaces: state is field 3, utime 14.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  const [utime, stime, cutime, cstime] = f.slice(11, 15);
  return { own: (utime + stime) / tick, all: (utime + stime + cutime + cstime) / tick };
}

/** A sample of a process's CPU time and the wall clock. */
interface CpuSample {
  wall: number;
  own: number;
  all: number;
}

async function sampleCpu(pid: number, tick: number): Promise<CpuSample> {
  return { wall: Date.now() / 1000, ...await cpuSeconds(pid, tick) };
}

/** The share of one core between two samples; `wall` overrides the span (e.g. from log times). */
function share(a: CpuSample, b: CpuSample, wall = b.wall - a.wall): CpuShare {
  return { own: (100 * (b.own - a.own)) / wall, withChildren: (100 * (b.all - a.all)) / wall };
}

async function procStatusMb(pid: number, field: string): Promise<number> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)![1]) / 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * The linger histogram of `iface` in a metrics file: the bucket bound at
 * which the cumulative count reaches each quantile (Infinity: past the last
 * bound), and the mean.
 */
function lingerFromMetrics(
  metrics: string,
  iface: string,
): DeadlineResult["linger"] {
  const buckets: [number, number][] = [];
  let sum = NaN, count = NaN;
  for (const line of metrics.split("\n")) {
    const m = /^wg_reinstate_linger_seconds(_bucket|_sum|_count)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || !m[2].includes(`interface="${iface}"`)) continue;
    const value = Number(m[3]);
    if (m[1] === "_sum") sum = value;
    else if (m[1] === "_count") count = value;
    else {
      const le = /le="([^"]+)"/.exec(m[2])![1];
      buckets.push([le === "+Inf" ? Infinity : Number(le), value]);
    }
  }
  buckets.sort((a, b) => a[0] - b[0]);
  const quantile = (q: number) =>
    buckets.find(([, cumulative]) => cumulative >= Math.ceil(q * count))?.[0] ?? NaN;
  return { p50: quantile(0.5), p99: quantile(0.99), max: quantile(1), mean: sum / count, count };
}

/** Latest-handshake times of all peers (unix seconds, 0: none), as `wg` reports them. */
async function latestHandshakes(lab: WgLab): Promise<number[]> {
  const out = await lab.wg("show", lab.iface, "latest-handshakes");
  return out.trim().split("\n").filter(Boolean).map((l) => Number(l.split("\t")[1]));
}

/** How many peers hold an endpoint (counted; the addresses are never kept). */
async function endpointCount(lab: WgLab): Promise<number> {
  const out = await lab.wg("show", lab.iface, "endpoints");
  return out.split("\n").filter((l) => l.includes("\t") && !l.endsWith("\t(none)")).length;
}

/**
 * Handshakes `peers`, each from its own UDP source port; past
 * {@link PORTS_PER_ADDRESS} peers, from one more source address per batch,
 * added to the load-generator's link (named as lab.ts names it) and made the
 * source of its route to the server.
 */
export async function handshakeAll(lab: WgLab, peers: readonly LoadPeer[]): Promise<number> {
  let failed = 0;
  for (let start = 0; start < peers.length; start += PORTS_PER_ADDRESS) {
    const batch = start / PORTS_PER_ADDRESS;
    if (batch > 0) {
      const ns = `wr-${lab.id}-load`, dev = `wr${lab.id}b250`, src = `172.30.250.${2 + batch}`;
      await sh(["ip", "-n", ns, "addr", "add", `${src}/32`, "dev", dev]);
      await sh(["ip", "-n", ns, "route", "replace", "172.30.250.1/32", "dev", dev, "src", src]);
    }
    const jobs = peers.slice(start, start + PORTS_PER_ADDRESS)
      .map((p) => ({ ...p, sourcePort: p.sourcePort - start }));
    failed += (await lab.runHandshakes(jobs)).filter((r) => !r.ok).length;
  }
  return failed;
}

/**
 * Runs part (w) for one N on `lab` (a fresh lab of either implementation, with no peers):
 * see the module's documentation. Progress goes to stderr.
 */
export async function benchDeadline(lab: WgLab, options: DeadlineOptions): Promise<DeadlineResult> {
  const n = options.peers;
  const say = (text: string) => console.error(`N=${n}: (w) ${text}`);
  const tick = Number((await sh(["getconf", "CLK_TCK"])).stdout.trim());
  say("configuring peers");
  // Half with a preshared key, as in the other parts; no keepalive: the
  // server would send one to every forgotten client's closed port.
  const peers = await lab.addLoadPeers(Array.from({ length: n }, (_, i) => ({ psk: i % 2 === 0 })));

  let staleAfter = options.staleAfter;
  if (staleAfter === "auto") {
    // All N must be handshaked before the first deadline, so that the purges
    // are measured on a quiet server. These peers handshake again later,
    // while the daemon watches.
    const sample = peers.slice(0, Math.min(SAMPLE, n));
    const started = performance.now();
    await lab.runHandshakes(sample);
    const perPeer = (performance.now() - started) / 1000 / sample.length;
    staleAfter = Math.max(30, Math.ceil((1.25 * n * perPeer + 15) / 10) * 10);
    say(`stale-after ${staleAfter} s (handshakes timed at ${(1 / perPeer).toFixed(0)}/s)`);
  }
  const S = staleAfter;

  const dir = options.runDir;
  const metricsFile = `${dir}/metrics.prom`;
  const daemon = new CliProcess([
    "daemon",
    "-i",
    lab.iface,
    "--stale-after",
    String(S),
    "--force-short-threshold",
    // Its grid, whose cycles it logs, at stale-after: each read at rest is one of them (the
    // cycles at peers' deadlines that purge nothing leave no line).
    "--interval",
    String(S),
    "--metrics-file",
    metricsFile,
    "--status-file",
    `${dir}/status.json`,
    "--key-dir",
    dir,
    "--lock-dir",
    dir,
    "--log-level",
    "info",
    // JSON lines: the cycle's duration and counts as properties, and a time stamp.
    "--log-format",
    "json",
    "--log-timestamps",
    "on",
  ], { entry: options.entry, v8Flags: options.v8Flags, netns: lab.serverNs });
  const pid = daemon.child.pid; // `ip netns exec` execs the runtime: the same process
  try {
    await daemon.waitFor(/cycle (done|FAILED) in/, 120_000);
    const comm = (await Deno.readTextFile(`/proc/${pid}/comm`)).trim();
    if (comm !== "deno") throw new Error(`pid ${pid} is ${comm}, not the daemon's runtime`);
    // A handshake's age counts only when it is newer than the whole second of
    // the daemon's first read (src/purge/observations.ts).
    await sleep(1200);

    say("handshaking");
    const cyclesBefore = cycleLines(daemon.stdout).length;
    // Waits until a cycle since the handshakes `matches` (each is offered
    // once, in order) and returns its index among them.
    let offered = 0;
    const waitForCycle = async (
      matches: (cycle: CycleLine, index: number) => boolean,
      timeoutS: number,
    ): Promise<number> => {
      const timeoutAt = Date.now() + timeoutS * 1000;
      for (;;) {
        const since = cycleLines(daemon.stdout).slice(cyclesBefore);
        for (; offered < since.length; offered++) {
          if (matches(since[offered], offered)) return offered++;
        }
        if (Date.now() > timeoutAt) throw new Error(`timed out:\n${daemon.log.slice(-4000)}`);
        await sleep(POLL_MS);
      }
    };
    const started = performance.now();
    const failed = await handshakeAll(lab, peers);
    const handshakeSeconds = (performance.now() - started) / 1000;
    const times = (await latestHandshakes(lab)).filter((t) => t > 0);
    const unconfirmed = (await endpointCount(lab)) - times.length;
    // Not Math.min(...times): spread arguments overflow V8's stack from about 100,000.
    const first = times.reduce((a, b) => Math.min(a, b));
    const spread = times.reduce((a, b) => Math.max(a, b)) - first;
    const firstDeadline = first + S + 1;
    say(`handshakes took ${handshakeSeconds.toFixed(1)} s, spread ${spread} s`);
    const late = Date.now() / 1000 > firstDeadline;
    if (late) say(`WARNING: handshaking outlasted stale-after ${S}: purges began during it`);

    await sleep((firstDeadline - 0.5) * 1000 - Date.now());
    const purgeStart = await sampleCpu(pid, tick);
    say(`waiting for ${times.length} purges`);
    let purged = 0;
    await waitForCycle((c) => (purged += c.purged) >= times.length, spread + S + 1200);
    const lines = cycleLines(daemon.stdout).slice(cyclesBefore);
    const purgeEnd = await sampleCpu(pid, tick);
    // Every endpoint that had a handshake is gone: check it once on the server.
    const left = (await endpointCount(lab)) - unconfirmed;
    if (left > 0) throw new Error(`${left} endpoints left after ${times.length} purges`);
    const lastPurge = lines.findLast((c) => c.purged > 0)!;
    const purgeWall = lastPurge.at - purgeStart.wall;

    // Then it reads every 5 s for stale-after (replays of the purged), then
    // at rest once per stale-after (at most --interval, 180 s): measured from
    // just after the first read at rest to just after the IDLE_READS-th next.
    say(`replay watch (${S} s), then ${IDLE_READS} reads at rest`);
    const rest = await waitForCycle((c) => c.at >= lastPurge.at + S, 2 * S + 200);
    const idleStart = await sampleCpu(pid, tick);
    await waitForCycle((_, i) => i >= rest + IDLE_READS, IDLE_READS * (S + 200));
    const idleEnd = await sampleCpu(pid, tick);
    const after = cycleLines(daemon.stdout).slice(cyclesBefore);

    const dumpMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await lab.wg("show", lab.iface, "dump");
      dumpMs.push(performance.now() - t);
    }
    const purging = after.filter((c) => c.purged > 0);
    return {
      peers: n,
      staleAfter: S,
      late,
      handshakeSeconds,
      spread,
      failed,
      readMs: median(after.filter((c) => c.at > lastPurge.at && c.ok).map((c) => c.durationMs)),
      dumpMs: median(dumpMs),
      purgingCycles: purging.map((c) => c.durationMs),
      cyclesFailed: after.filter((c) => !c.ok).length,
      window: lastPurge.at - firstDeadline,
      linger: lingerFromMetrics(await Deno.readTextFile(metricsFile), lab.iface),
      cpu: {
        purge: share(purgeStart, purgeEnd, purgeWall),
        replayWatch: share(purgeEnd, idleStart),
        idle: share(idleStart, idleEnd),
      },
      idleCpuMsPerRead: (1000 * (idleEnd.all - idleStart.all)) / IDLE_READS,
      peakRssMb: await procStatusMb(pid, "VmHWM"),
      idleRssMb: await procStatusMb(pid, "VmRSS"),
    };
  } finally {
    await daemon.stop();
  }
}

const bound = (s: number) => (s === Infinity ? "> 300" : String(s));
const pct = (c: CpuShare) => `${c.own.toFixed(2)} (${c.withChildren.toFixed(2)})`;

/** The columns of part (w)'s table. */
const COLUMNS = [
  "peers",
  "stale-after s",
  "handshakes: wall s, spread s",
  "read: idle cycle ms (bare dump ms)",
  "purging cycles: n, median ms (max)",
  "window s",
  "linger p50 / p99 / max s",
  "linger mean s",
  "CPU % purging",
  "CPU % replay watch",
  "CPU % at rest (ms per read)",
  "RSS peak / at rest MB",
];

/** The table of part (w): a header and one row per N. */
export function deadlineTable(results: readonly DeadlineResult[]): string[] {
  const rows = [
    `| ${COLUMNS.join(" | ")} |`,
    `|${" --- |".repeat(COLUMNS.length)}`,
  ];
  for (const r of results) {
    const failed = r.failed > 0 ? `, ${r.failed} failed` : "";
    const cycles = r.cyclesFailed > 0 ? ` ${r.cyclesFailed} FAILED` : "";
    const late = r.late ? " (too short: purges began during the handshakes)" : "";
    rows.push(
      `| ${r.peers} | ${r.staleAfter}${late} | ${
        r.handshakeSeconds.toFixed(1)
      }, ${r.spread}${failed} | ` +
        `${r.readMs.toFixed(0)} (${r.dumpMs.toFixed(0)}) | ${r.purgingCycles.length}, ` +
        `${median(r.purgingCycles).toFixed(0)} (${Math.max(...r.purgingCycles)})${cycles} | ` +
        `${r.window.toFixed(1)} | ${bound(r.linger.p50)} / ${bound(r.linger.p99)} / ` +
        `${bound(r.linger.max)} | ${r.linger.mean.toFixed(2)} | ${pct(r.cpu.purge)} | ` +
        `${pct(r.cpu.replayWatch)} | ${pct(r.cpu.idle)} (${r.idleCpuMsPerRead.toFixed(0)}) | ` +
        `${r.peakRssMb.toFixed(1)} / ${r.idleRssMb.toFixed(1)} |`,
    );
  }
  return rows;
}
