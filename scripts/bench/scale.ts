/**
 * Part (m) of the benchmark: memory and time per cycle as the peer count
 * grows, for one or more builds of the program on the same server (e.g.
 * before and after a change). On one server of N peers, every one with a
 * preshared key and a third with a keepalive:
 *
 * - none stale: `run` with `--stale-after 900` (handshakes that all N made
 *   within the last 15 minutes): peak RSS (GNU time) and wall time, against
 *   a bare `wg show IFACE dump` (its wall time and peak RSS) and `deno run`
 *   of an empty file (start-up; its peak RSS is the empty program's); and
 *   the smaller views, `latest-handshakes` and `endpoints`, timed;
 * - the daemon (`daemon --interval 3600`) after its first cycle over N: its
 *   RSS asleep, and its peak;
 * - with `stale`, about that many of the oldest handshakes stale (the clock
 *   and stale-after chosen so that they alone are, and no handshake lies in
 *   the future): `run` against the floor (scripts/bench/floor.sh, purging the
 *   same peers), and its peak RSS. The purged peers handshake again between
 *   runs.
 *
 * With `handshake: false` (200,000 kernel peers in the VM, where handshakes
 * under emulation would take hours) each peer gets an endpoint from
 * `wg set … endpoint` instead: its dump line is as long as an active
 * peer's, it has no handshake, and it is kept (never-handshaked). None has
 * a keepalive there.
 *
 * Prints counts and times over all N; never a key, an endpoint or one peer's
 * time.
 *
 * @module
 */
import { cliCommand, CliProcess } from "../../tests/harness/cli.ts";
import type { LoadPeer, WgLab } from "../../tests/harness/lab.ts";
import { sh } from "../../tests/harness/sh.ts";
import { handshakeAll } from "./deadline.ts";
import { fmt, stats } from "./stats.ts";

/** A dump of 200,000 peers under emulation takes longer than the default 10 s. */
const WG_TIMEOUT = ["--wg-timeout", "300"];

/** A build of the program to measure. */
export interface Program {
  label: string;
  /** The bundle's entry. */
  entry: string;
}

/** How to run part (m) for one N. */
export interface ScaleOptions {
  peers: number;
  runs: number;
  programs: readonly Program[];
  /** The shipped V8 flags. */
  v8Flags: string;
  /** Real handshakes; else endpoints set by `wg set` (see the module's comment). */
  handshake: boolean;
  /** About how many peers to make stale for the purge runs (at most half); 0: none. */
  stale: number;
  /** scripts/bench/floor.sh. */
  floor: string;
  /** Environment of the floor (its key files on the tmpfs). */
  floorEnv: Record<string, string>;
}

/** Wall time (ms) and peak RSS (MB, GNU time's %M) of a command. */
async function measured(
  cmd: readonly string[],
  env?: Record<string, string>,
): Promise<{ ms: number; mb: number; stdout: string }> {
  const started = performance.now();
  const r = await sh(["/usr/bin/time", "-f", "%M", ...cmd], { env });
  const ms = performance.now() - started;
  return { ms, mb: Number(r.stderr.trim().split("\n").at(-1)) / 1024, stdout: r.stdout };
}

async function procStatusMb(pid: number, field: string): Promise<number> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)![1]) / 1024;
}

/** Latest handshakes of every peer, ascending (unix seconds; 0: none). */
async function handshakes(lab: WgLab): Promise<number[]> {
  const out = await lab.wg("show", lab.iface, "latest-handshakes");
  return out.trim().split("\n").filter(Boolean).map((l) => Number(l.split("\t")[1]))
    .sort((a, b) => a - b);
}

/** Gives every peer an endpoint of the load generator's address, without a handshake. */
async function setEndpoints(lab: WgLab, peers: readonly LoadPeer[]): Promise<void> {
  for (let i = 0; i < peers.length; i += 2000) {
    const args = peers.slice(i, i + 2000).flatMap((p) => [
      "peer",
      p.keys.publicKey,
      "endpoint",
      `172.30.250.2:${p.sourcePort % 65536}`,
    ]);
    await lab.wg("set", lab.iface, ...args);
  }
}

/**
 * The clock and stale-after that make the `count` oldest handshakes stale
 * and no other, with no handshake in the future: stale-after at least 180 s
 * and at least the span from the count-th oldest handshake to the newest,
 * and the tool's clock one second past the count-th oldest's deadline.
 * While the run reads, its clock moves on: a few more may fall due.
 */
async function staleClock(
  lab: WgLab,
  count: number,
): Promise<{ shift: number; staleAfter: number; before: number }> {
  const all = (await handshakes(lab)).filter((h) => h > 0);
  const edge = all[count - 1];
  const staleAfter = Math.max(180, all.at(-1)! - edge - 1);
  const now = edge + staleAfter + 1;
  return { shift: now - Date.now() / 1000, staleAfter, before: now - staleAfter };
}

/** Runs part (m) for one N on `lab` (a fresh lab with no peers); returns table rows. */
export async function benchScale(lab: WgLab, options: ScaleOptions): Promise<string[]> {
  const n = options.peers;
  const say = (text: string) => console.error(`N=${n}: (m) ${text}`);
  const rows: string[] = [];
  const row = (program: string, measure: string, value: string) => {
    rows.push(`| ${n} | ${program} | ${measure} | ${value} |`);
    say(rows.at(-1)!); // also now: a later failure loses no figure
  };
  say("configuring peers");
  const peers = await lab.addLoadPeers(
    Array.from({ length: n }, (_, i) => ({
      psk: true,
      // Without a handshake, a keepalive would have the kernel retry handshakes
      // to nobody for as long as the benchmark runs, and measure that.
      keepalive: options.handshake && i % 3 === 0 ? 25 : undefined,
      keyOnly: !options.handshake,
    })),
  );
  if (options.handshake) {
    say("handshaking");
    const failed = await handshakeAll(lab, peers);
    if (failed > 0) say(`${failed} handshakes failed`);
  } else {
    await setEndpoints(lab, peers);
  }
  const workDir = await Deno.makeTempDir({ prefix: "wr-scale-" });
  try {
    const empty = `${workDir}/empty.js`;
    await Deno.writeTextFile(empty, "");
    const dump: { ms: number; mb: number }[] = [], start: { ms: number; mb: number }[] = [];
    for (let r = 0; r < options.runs; r++) {
      dump.push(await measured(lab.inServerNs(["wg", "show", lab.iface, "dump"])));
      start.push(
        await measured([Deno.execPath(), "run", `--v8-flags=${options.v8Flags}`, empty]),
      );
    }
    // The smaller views `wg show` has: what a cycle would read instead of the dump.
    for (const view of ["latest-handshakes", "endpoints"]) {
      const times: number[] = [];
      for (let r = 0; r < options.runs; r++) {
        times.push((await measured(lab.inServerNs(["wg", "show", lab.iface, view]))).ms);
      }
      row("-", `bare wg show ${view}: wall ms`, fmt(stats(times)));
    }
    const dumpMs = stats(dump.map((x) => x.ms)), startMs = stats(start.map((x) => x.ms));
    const emptyMb = stats(start.map((x) => x.mb));
    row("-", "bare wg show dump: wall ms", fmt(dumpMs));
    row("-", "bare wg show dump: peak RSS MB", fmt(stats(dump.map((x) => x.mb)), 1));
    row("-", "empty program: wall ms", fmt(startMs));
    row("-", "empty program: peak RSS MB", fmt(emptyMb, 1));

    for (const program of options.programs) {
      say(`none stale, ${program.label}`);
      const runs: { ms: number; mb: number }[] = [];
      for (let r = 0; r < options.runs; r++) {
        const { cmd, env } = cliCommand(
          ["run", "-i", lab.iface, "--stale-after", "900", "--json", ...WG_TIMEOUT],
          { entry: program.entry, v8Flags: options.v8Flags, netns: lab.serverNs },
        );
        const t = await measured(cmd, env);
        const report = JSON.parse(t.stdout).interfaces[0];
        if (report.checked !== n || report.purged.length !== 0) {
          throw new Error(`run checked ${report.checked} and purged ${report.purged.length}`);
        }
        runs.push(t);
      }
      const ms = stats(runs.map((x) => x.ms)), mb = stats(runs.map((x) => x.mb));
      row(program.label, "run, none stale: wall ms", fmt(ms));
      row(program.label, "run, none stale: peak RSS MB", fmt(mb, 1));
      row(
        program.label,
        "run, none stale / bare dump, wall",
        (ms.median / dumpMs.median).toFixed(2),
      );
      row(
        program.label,
        "run, none stale / (dump + start-up), wall",
        (ms.median / (dumpMs.median + startMs.median)).toFixed(2),
      );
      const daemon = await daemonAfterCycle(lab, program, options.v8Flags);
      row(program.label, "daemon after one cycle: RSS asleep MB", daemon.rest.toFixed(1));
      row(program.label, "daemon after one cycle: peak RSS MB", daemon.peak.toFixed(1));
      row(
        program.label,
        "daemon asleep / empty program, RSS",
        (daemon.rest / emptyMb.median).toFixed(2),
      );
    }

    // At most half the peers: the rest must stay active.
    const stale = Math.min(options.stale, Math.floor(n / 2));
    if (stale > 0 && options.handshake) {
      const floorMs: number[] = [];
      const byProgram = new Map(
        options.programs.map((p) => [p.label, [] as { ms: number; mb: number; purged: number }[]]),
      );
      for (let r = 0; r < options.runs; r++) {
        for (const program of options.programs) {
          say(`${stale} stale, ${program.label}, run ${r + 1}/${options.runs}`);
          const clock = await staleClock(lab, stale);
          const { cmd, env } = cliCommand(
            [
              "run",
              "-i",
              lab.iface,
              "--stale-after",
              String(clock.staleAfter),
              "--json",
              ...WG_TIMEOUT,
            ],
            {
              entry: program.entry,
              v8Flags: options.v8Flags,
              netns: lab.serverNs,
              clockShift: clock.shift,
            },
          );
          const t = await measured(cmd, env);
          const report = JSON.parse(t.stdout);
          if (!report.ok) throw new Error("the purge run failed");
          byProgram.get(program.label)!.push({
            ...t,
            purged: report.interfaces[0].purged.length,
          });
          await rehandshake(lab, peers, say);
        }
        say(`${stale} stale, the floor, run ${r + 1}/${options.runs}`);
        const clock = await staleClock(lab, stale);
        floorMs.push(
          (await measured(
            lab.inServerNs([
              "bash",
              options.floor,
              lab.iface,
              "524288",
              String(Math.floor(clock.before)),
            ]),
            options.floorEnv,
          )).ms,
        );
        await rehandshake(lab, peers, say);
      }
      const floor = stats(floorMs);
      row("-", `floor, ~${stale} stale: wall ms`, fmt(floor));
      for (const [label, runs] of byProgram) {
        const ms = stats(runs.map((x) => x.ms));
        row(
          label,
          `run, ~${stale} stale: peers purged`,
          fmt(stats(runs.map((x) => x.purged))),
        );
        row(label, `run, ~${stale} stale: wall ms`, fmt(ms));
        row(
          label,
          `run, ~${stale} stale: peak RSS MB`,
          fmt(stats(runs.map((x) => x.mb)), 1),
        );
        row(
          label,
          `run, ~${stale} stale / floor, wall`,
          (ms.median / floor.median).toFixed(2),
        );
      }
    }
    return rows;
  } finally {
    await Deno.remove(workDir, { recursive: true });
  }
}

/**
 * Handshakes again every peer that has no endpoint (those a purge just
 * forgot), each failure once more; says how many still failed (a server
 * under load may leave an initiation unanswered).
 */
async function rehandshake(
  lab: WgLab,
  peers: readonly LoadPeer[],
  say: (text: string) => void,
): Promise<void> {
  const out = await lab.wg("show", lab.iface, "endpoints");
  const gone = new Set(
    out.trim().split("\n").filter((l) => l.endsWith("\t(none)")).map((l) => l.split("\t")[0]),
  );
  let again = peers.filter((p) => gone.has(p.keys.publicKey));
  for (let round = 0; round < 2 && again.length > 0; round++) {
    const results = await lab.runHandshakes(again);
    again = again.filter((_, i) => !results[i].ok);
  }
  if (again.length > 0) say(`${again.length} handshakes failed twice`);
}

/** The daemon's RSS asleep after its first cycle over every peer, and its peak by then. */
async function daemonAfterCycle(
  lab: WgLab,
  program: Program,
  v8Flags: string,
): Promise<{ rest: number; peak: number }> {
  const daemon = new CliProcess(
    ["daemon", "-i", lab.iface, "--stale-after", "900", "--interval", "3600", ...WG_TIMEOUT],
    { entry: program.entry, v8Flags, netns: lab.serverNs },
  );
  try {
    await daemon.waitFor(/cycle (done|FAILED) in \d+ ms/, 600_000);
    await new Promise((r) => setTimeout(r, 2000));
    const pid = daemon.child.pid;
    return { rest: await procStatusMb(pid, "VmRSS"), peak: await procStatusMb(pid, "VmHWM") };
  } finally {
    await daemon.stop();
  }
}
