/**
 * The scale benchmark: a WireGuard server with N handshaked peers (half of
 * them with a preshared key, a third with a keepalive), measured with the
 * tool's clock shifted so that every peer is stale. Prints a table; asserts
 * nothing. Run as root: `deno task bench` (or `bash scripts/dev.sh bench`, which installs what is missing).
 *
 * `--impl go` (default) runs wireguard-go on this host; `--impl kernel` runs
 * the same inside the test VM (scripts/vm/) against kernel WireGuard, where
 * times are emulated (TCG): compare its ratios, not its milliseconds.
 *
 * The program runs as it ships: the bundle (scripts/release/bundle.ts) with the
 * shipped V8 flags. Preshared-key files go to a tmpfs, as /run is on real
 * systems (on this machine /run is on disk): the benchmark runs itself in a
 * private mount namespace with a tmpfs on /run/wg-reinstate.
 *
 * (s) the bundle's size; peak RSS and time of `--version`, against `deno run`
 *     of an empty file with the same flags
 * (a) wall time of one `run` that purges all N, verify read included
 * (b) wall time of a `run` when nothing is stale, against one bare
 *     `wg show dump` plus the runtime's start-up (`deno run` of an empty file)
 * (c) the floor: scripts/bench/floor.sh (dump, batched wg set, verify dump)
 * (d) the daemon's peak RSS during a purge of all N, and its idle RSS
 * (e) `wg` processes per cycle, counted by a PATH wrapper
 * (p) all stale, --psk-peers peers all with a preshared key: `run` against
 *     the floor and against the predecessor's method
 *     (scripts/bench/predecessor.sh: two `wg` processes per peer), same run
 * (w) the deadline daemon with --deadline-peers peers handshaked once while
 *     it watches: how late it forgets each endpoint, and its CPU share
 *     (scripts/bench/deadline.ts; one run per N)
 * (m) memory and time per cycle at --scale-peers peers, none stale and
 *     --scale-stale stale, for this tree's program and, with --before DIR,
 *     that checkout's too, on the same server (scripts/bench/scale.ts)
 *
 * Options: --impl go|kernel --peers 1000,10000 --psk-peers 2000 --runs 5
 * --deadline-peers 1000,10000,65536 --deadline-stale-after auto|S
 * --scale-peers 1000,10000,65536 --scale-stale 5000 --before DIR
 * --parts s,a,b,d,p,w (m only when asked)
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cliCommand, CliProcess } from "../../tests/harness/cli.ts";
import { labAvailable, type LoadPeer, type WgImpl, WgLab } from "../../tests/harness/lab.ts";
import { sh } from "../../tests/harness/sh.ts";
import { bundleBytes, bundleTo } from "../release/bundle.ts";
import { V8_FLAGS } from "../release/runtime_flags.ts";
import { benchDeadline, type DeadlineResult, deadlineTable } from "./deadline.ts";
import { benchScale, type Program } from "./scale.ts";
import { fmt, stats } from "./stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    impl: { type: "string", default: "go" },
    peers: { type: "string", default: "1000,10000" },
    "psk-peers": { type: "string", default: "2000" },
    runs: { type: "string", default: "5" },
    // 65,536 is wireguard-go's MaxPeers.
    "deadline-peers": { type: "string", default: "1000,10000,65536" },
    // auto: long enough to handshake all N first (scripts/bench/deadline.ts).
    "deadline-stale-after": { type: "string", default: "auto" },
    // Which measurements: s, a (with c and e), b, d, p, w, m.
    parts: { type: "string", default: "s,a,b,d,p,w" },
    "scale-peers": { type: "string", default: "1000,10000,65536" },
    "scale-stale": { type: "string", default: "5000" },
    // Another checkout whose program (m) measures too, e.g. before a change.
    before: { type: "string" },
  },
});
const IMPL = values.impl as WgImpl;
const SIZES = values.peers.split(",").map(Number);
const RUNS = Number(values.runs);
const PARTS = new Set(values.parts.split(","));
const SHIFT = 600;
// The shipped V8 flags (scripts/release/runtime_flags.ts), as `deno run --v8-flags=` takes them.
const SHIPPED_V8 = V8_FLAGS.map((f) => f.replace(/^--v8-flags=/, "")).join(",");
const FLOOR = new URL("./floor.sh", import.meta.url).pathname;
const PREDECESSOR = new URL("./predecessor.sh", import.meta.url).pathname;
const KEY_TMPFS = "/run/wg-reinstate";
/** The program as it ships, run with the shipped V8 flags; the entry is set once bundled. */
const SHIPPED = { entry: "", v8Flags: SHIPPED_V8 };
/** Where the floor and the predecessor write their key files: the same tmpfs. */
const ON_TMPFS = { TMPDIR: KEY_TMPFS };

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

/**
 * The daemon's peak RSS during a cycle that purges all N, and its RSS once
 * it sleeps between cycles afterwards.
 */
async function daemonRss(
  lab: WgLab,
  dir: string,
  v8Flags?: string,
): Promise<{ peak: number; idle: number }> {
  const config = `${dir}/daemon.json`;
  const settings = (interval: number) => JSON.stringify({ interfaces: [lab.iface], interval });
  await Deno.writeTextFile(config, settings(1));
  // The daemon purges only what it has watched for stale-after on its
  // monotonic clock: run that clock fast and cycle every second, so the
  // second cycle purges everything.
  const daemon = new CliProcess(["daemon", "--config", config], {
    entry: SHIPPED.entry,
    clockShift: SHIFT,
    monotonicSpeed: 1000,
    v8Flags,
    netns: lab.serverNs,
  });
  try {
    await daemon.waitFor(
      /cycle (done|FAILED) in \d+ ms: \d+ peers checked, [1-9]\d* purged/,
      300_000,
    );
    const peak = await procStatus(daemon.child.pid, "VmHWM");
    // Then an hour between cycles: reload (which runs one cycle) and let it sleep.
    await Deno.writeTextFile(config, settings(3600));
    daemon.child.kill("SIGHUP");
    await daemon.waitFor(/settings reloaded[\s\S]*cycle (done|FAILED)/, 300_000);
    await new Promise((r) => setTimeout(r, 2000));
    const idle = await procStatus(daemon.child.pid, "VmRSS");
    return { peak, idle };
  } finally {
    await daemon.stop();
  }
}

async function benchSize(n: number): Promise<string[]> {
  const lab = await WgLab.start({ impl: IMPL });
  const workDir = await Deno.makeTempDir({ prefix: "wr-bench-" });
  const rows: string[] = [];
  const row = (measure: string, value: string) =>
    rows.push(`| ${IMPL} | ${n} | ${measure} | ${value} |`);
  try {
    console.error(`N=${n}: configuring peers and handshaking`);
    const peers = await lab.addLoadPeers(
      Array.from(
        { length: n },
        (_, i) => ({ psk: i % 2 === 0, keepalive: i % 3 === 0 ? 25 : undefined }),
      ),
    );

    if (PARTS.has("a")) {
      const realWg = (await sh(["sh", "-c", "command -v wg"])).stdout.trim();
      const callLog = `${workDir}/calls`;
      await Deno.writeTextFile(
        `${workDir}/wg`,
        `#!/bin/sh\n# Counting wrapper: logs the subcommand, then runs the real wg.\necho "$1" >> '${callLog}'\nexec '${realWg}' "$@"\n`,
        { mode: 0o755 },
      );
      const a: number[] = [], cycle: number[] = [], c: number[] = [], spawns: number[] = [];
      for (let run = 1; run <= RUNS; run++) {
        console.error(`N=${n}: (a)/(c) run ${run}/${RUNS}`);
        await restale(lab, peers);
        await Deno.writeTextFile(callLog, "");
        const { cmd, env } = cliCommand(["run", "-i", lab.iface, "--json"], {
          ...SHIPPED,
          clockShift: SHIFT,
          pathPrefix: workDir,
          netns: lab.serverNs,
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
        c.push((await timed(lab.inServerNs(["bash", FLOOR, lab.iface]), ON_TMPFS)).ms);
        if ((await lab.dump()).peers.some((p) => p.endpoint !== null)) {
          throw new Error("floor did not purge");
        }
      }
      row("(a) run, all stale: wall ms", fmt(stats(a)));
      row("(a) the cycle itself (report durationMs)", fmt(stats(cycle)));
      row("(c) floor script: wall ms", fmt(stats(c)));
      row("(a)/(c), same run", fmt(stats(a.map((x, i) => x / c[i])), 2));
      row("(e) wg processes per cycle", fmt(stats(spawns)));
    }

    if (PARTS.has("b")) {
      console.error(`N=${n}: (b) nothing stale`);
      await restale(lab, peers);
      const b: number[] = [], dump: number[] = [], startup: number[] = [];
      const empty = `${workDir}/empty.ts`;
      await Deno.writeTextFile(empty, "");
      for (let run = 1; run <= RUNS; run++) {
        const { cmd, env } = cliCommand(["run", "-i", lab.iface, "--json"], {
          ...SHIPPED,
          netns: lab.serverNs,
        });
        const t = await timed(cmd, env);
        if (JSON.parse(t.stdout).interfaces[0].purged.length !== 0) {
          throw new Error("purged an active peer");
        }
        b.push(t.ms);
        dump.push((await timed(lab.inServerNs(["wg", "show", lab.iface, "dump"]))).ms);
        startup.push((await timed([Deno.execPath(), "run", `--v8-flags=${SHIPPED_V8}`, empty])).ms);
      }
      row("(b) run, nothing stale: wall ms", fmt(stats(b)));
      row("bare wg show dump: ms", fmt(stats(dump)));
      row("deno run of an empty file: ms", fmt(stats(startup)));
      row(
        "(b) / (dump + start-up)",
        (stats(b).median / (stats(dump).median + stats(startup).median)).toFixed(2),
      );
    }

    if (PARTS.has("d")) {
      for (
        const [label, flags] of [["shipped V8 flags", SHIPPED_V8], [
          "V8 defaults",
          undefined,
        ]] as const
      ) {
        const peak: number[] = [], idle: number[] = [];
        for (let run = 1; run <= RUNS; run++) {
          console.error(`N=${n}: (d) ${label}, run ${run}/${RUNS}`);
          await restale(lab, peers);
          const rss = await daemonRss(lab, workDir, flags);
          peak.push(rss.peak);
          idle.push(rss.idle);
        }
        row(`(d) daemon peak RSS, purge of all N, ${label}: MB`, fmt(stats(peak), 1));
        row(`(d) daemon RSS asleep after it, ${label}: MB`, fmt(stats(idle), 1));
      }
    }
    return rows;
  } finally {
    await lab.close();
    await Deno.remove(workDir, { recursive: true });
  }
}

/** Peak RSS (MB) and wall time (ms) of a short command, by GNU time. */
async function peakRss(cmd: string[]): Promise<{ mb: number; ms: number }> {
  const started = performance.now();
  const r = await sh(["/usr/bin/time", "-f", "%M", ...cmd]);
  const ms = performance.now() - started;
  return { mb: Number(r.stderr.trim().split("\n").at(-1)) / 1024, ms };
}

/** (s): the bundle's size, and `--version` against an empty program with the same flags. */
async function benchStartup(): Promise<string[]> {
  const rows: string[] = [];
  const row = (measure: string, value: string) =>
    rows.push(`| ${IMPL} | - | ${measure} | ${value} |`);
  row("(s) bundle: bytes (entry and chunks, minified)", String(await bundleBytes(BUNDLE_DIR)));
  const empty = `${BUNDLE_DIR}/../wr-bench-empty.js`;
  await Deno.writeTextFile(empty, "");
  try {
    const deno = [Deno.execPath(), "run", `--v8-flags=${SHIPPED_V8}`];
    const version: { mb: number; ms: number }[] = [], bare: { mb: number; ms: number }[] = [];
    for (let run = 1; run <= RUNS * 2; run++) {
      version.push(await peakRss([...deno, SHIPPED.entry, "--version"]));
      bare.push(await peakRss([...deno, empty]));
    }
    const v = stats(version.map((x) => x.mb)), e = stats(bare.map((x) => x.mb));
    row("(s) --version: peak RSS MB", fmt(v, 1));
    row("(s) empty program: peak RSS MB", fmt(e, 1));
    row("(s) --version / empty, peak RSS", (v.median / e.median).toFixed(2));
    row("(s) --version: wall ms", fmt(stats(version.map((x) => x.ms))));
    row("(s) empty program: wall ms", fmt(stats(bare.map((x) => x.ms))));
  } finally {
    await Deno.remove(empty);
  }
  return rows;
}

/** (w): the deadline daemon, one fresh lab per N, its files on the key tmpfs. */
async function benchDeadlines(): Promise<DeadlineResult[]> {
  const staleAfter = values["deadline-stale-after"] === "auto"
    ? "auto"
    : Number(values["deadline-stale-after"]);
  const results: DeadlineResult[] = [];
  for (const peers of values["deadline-peers"].split(",").map(Number)) {
    const lab = await WgLab.start({ impl: IMPL });
    // In the VM, whose whole root is a throwaway tmpfs overlay, the directory is made here.
    await Deno.mkdir(KEY_TMPFS, { recursive: true, mode: 0o700 });
    const runDir = await Deno.makeTempDir({ dir: KEY_TMPFS, prefix: "wr-deadline-" });
    try {
      results.push(
        await benchDeadline(lab, { peers, staleAfter, ...SHIPPED, runDir }),
      );
    } finally {
      await lab.close();
      await Deno.remove(runDir, { recursive: true });
    }
  }
  return results;
}

/** The bundle of the checkout at `dir`, made by its own bundle script into `out`. */
async function bundleOf(dir: string, out: string): Promise<string> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "scripts/release/bundle.ts", out],
    cwd: dir,
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (r.code !== 0) throw new Error(`bundling ${dir} failed`);
  return `${out}/main.js`;
}

/** (m): memory and time per cycle, one fresh lab per N. */
async function benchScales(): Promise<string[]> {
  const programs: Program[] = [];
  if (values.before !== undefined) {
    const head = (await sh(["git", "-C", values.before, "rev-parse", "--short", "HEAD"])).stdout
      .trim();
    programs.push({
      label: `before (${head})`,
      entry: await bundleOf(values.before, `${BUNDLE_DIR}/before`),
    });
  }
  programs.push({
    label: values.before === undefined ? "this tree" : "after",
    entry: SHIPPED.entry,
  });
  const rows: string[] = [];
  for (const peers of values["scale-peers"].split(",").map(Number)) {
    const lab = await WgLab.start({ impl: IMPL });
    try {
      rows.push(
        ...await benchScale(lab, {
          peers,
          runs: RUNS,
          programs,
          v8Flags: SHIPPED_V8,
          handshake: IMPL === "go",
          stale: Number(values["scale-stale"]),
          floor: FLOOR,
          floorEnv: ON_TMPFS,
        }),
      );
    } finally {
      await lab.close();
    }
  }
  return rows;
}

/** (p): all stale, every peer with a PSK: run against the floor and the predecessor's method. */
async function benchPredecessor(n: number): Promise<string[]> {
  const lab = await WgLab.start({ impl: IMPL });
  const rows: string[] = [];
  const row = (measure: string, value: string) =>
    rows.push(`| ${IMPL} | ${n} PSK | ${measure} | ${value} |`);
  try {
    console.error(`N=${n} PSK: configuring peers and handshaking`);
    const peers = await lab.addLoadPeers(Array.from({ length: n }, () => ({ psk: true })));
    const run: number[] = [], floor: number[] = [], old: number[] = [];
    const allPurged = async (what: string) => {
      if ((await lab.dump()).peers.some((p) => p.endpoint !== null)) {
        throw new Error(`${what} did not purge every peer`);
      }
    };
    for (let r = 1; r <= RUNS; r++) {
      console.error(`N=${n} PSK: (p) run ${r}/${RUNS}`);
      await restale(lab, peers);
      const { cmd, env } = cliCommand(["run", "-i", lab.iface], {
        ...SHIPPED,
        clockShift: SHIFT,
        netns: lab.serverNs,
      });
      run.push((await timed(cmd, env)).ms);
      await allPurged("run");
      await restale(lab, peers);
      floor.push((await timed(lab.inServerNs(["bash", FLOOR, lab.iface]), ON_TMPFS)).ms);
      await allPurged("the floor");
      await restale(lab, peers);
      old.push((await timed(lab.inServerNs(["bash", PREDECESSOR, lab.iface]), ON_TMPFS)).ms);
      await allPurged("the predecessor's method");
    }
    row("(p) run, all stale: wall ms", fmt(stats(run)));
    row("(p) floor: wall ms", fmt(stats(floor)));
    row("(p) predecessor's method (2 wg per peer): wall ms", fmt(stats(old)));
    row("(p) run / floor, same run", fmt(stats(run.map((x, i) => x / floor[i])), 2));
    row("(p) predecessor / run, same run", fmt(stats(old.map((x, i) => x / run[i])), 1));
    return rows;
  } finally {
    await lab.close();
  }
}

if (IMPL === "kernel" && Deno.env.get("WG_REINSTATE_BENCH_IN_VM") !== "1") {
  // This host has no WireGuard module: run the same benchmark in the VM.
  const vm = new URL("../vm/run_in_vm.sh", import.meta.url).pathname;
  const status = await new Deno.Command("bash", {
    args: [
      vm,
      "--modprobe",
      "wireguard,veth",
      "--mem",
      "4096",
      "--timeout",
      "0",
      "--env",
      "WG_REINSTATE_BENCH_IN_VM=1",
      "--",
      Deno.execPath(),
      "run",
      "--allow-all",
      new URL(import.meta.url).pathname,
      ...Deno.args,
    ],
  }).spawn().status;
  Deno.exit(status.code);
}
if (IMPL === "go" && Deno.env.get("WG_REINSTATE_BENCH_TMPFS") !== "1") {
  // Key files on a tmpfs, as /run is on real systems: a private mount
  // namespace, so the host's mounts stay as they are. Its mount point is the
  // host's own directory: made for the run when missing, and removed after.
  const made = await Deno.lstat(KEY_TMPFS).then(() => false, () => true);
  const status = await new Deno.Command("unshare", {
    args: [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      `mkdir -p ${KEY_TMPFS} && mount -t tmpfs -o mode=0700 tmpfs ${KEY_TMPFS} && exec "$@"`,
      "sh",
      Deno.execPath(),
      "run",
      "--allow-all",
      new URL(import.meta.url).pathname,
      ...Deno.args,
    ],
    env: { WG_REINSTATE_BENCH_TMPFS: "1" },
  }).spawn().status;
  if (made) await Deno.remove(KEY_TMPFS).catch(() => {});
  Deno.exit(status.code);
}
if (!(await labAvailable(IMPL))) {
  console.error(
    "bench: needs root, ip, wg and wireguard-go (bash scripts/dev.sh bench installs them)",
  );
  Deno.exit(1);
}
const BUNDLE_DIR = await Deno.makeTempDir({ prefix: "wr-bench-bundle-" });
const rows: string[] = [];
let deadlines: DeadlineResult[] = [];
let scaleRows: string[] = [];
try {
  SHIPPED.entry = await bundleTo(BUNDLE_DIR);
  if (PARTS.has("s")) rows.push(...await benchStartup());
  if (PARTS.has("p")) rows.push(...await benchPredecessor(Number(values["psk-peers"])));
  if (["a", "b", "d"].some((p) => PARTS.has(p))) {
    for (const n of SIZES) rows.push(...await benchSize(n));
  }
  if (PARTS.has("w")) deadlines = await benchDeadlines();
  if (PARTS.has("m")) scaleRows = await benchScales();
} finally {
  await Deno.remove(BUNDLE_DIR, { recursive: true });
}
if (rows.length > 0) {
  console.log(`runs per figure: ${RUNS}; median (min–max)`);
  console.log("| impl | peers | measure | value |");
  console.log("| --- | --- | --- | --- |");
  for (const row of rows) console.log(row);
}
if (deadlines.length > 0) {
  console.log(
    `\n(w) the deadline daemon, ${
      IMPL === "go" ? "wireguard-go" : "kernel WireGuard"
    }, one run per N; CPU: % of one core, ` +
      "the daemon alone (with its wg processes)" +
      (IMPL === "kernel" ? "; emulated (TCG): compare ratios, not times" : ""),
  );
  for (const row of deadlineTable(deadlines)) console.log(row);
}
if (scaleRows.length > 0) {
  console.log(
    `\n(m) memory and time per cycle, ${IMPL === "go" ? "wireguard-go" : "kernel WireGuard"}; ` +
      `runs per figure: ${RUNS}; median (min–max)`,
  );
  console.log("| peers | program | measure | value |");
  console.log("| --- | --- | --- | --- |");
  for (const row of scaleRows) console.log(row);
}
