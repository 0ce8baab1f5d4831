/**
 * Every `wg` call bounded for real, and a terminal's signals reaching only
 * the tool, against real wireguard-go: a wrapper that hangs without `exec`
 * while a child holds its pipes, one that ignores SIGTERM, one that floods
 * stderr, and SIGHUP to the process group of a `run` in the middle of a
 * purge. After each, every peer that existed before exists with the same
 * configuration. Each test prints what it measured.
 */
import assert from "node:assert/strict";
import { cliCommand, CliProcess, type CliResult, runCli } from "../harness/cli.ts";
import { statesByKey } from "../harness/scenario.ts";
import { waitForFile, withWrapper } from "../support/wrappers.ts";
import { lost, staleLab } from "../support/stale_lab.ts";
import { OUTPUT_CAP_BYTES } from "../../src/wg/command.ts";
import { alive } from "../support/proc.ts";

const PEERS = 60;
// About 14 peers per `wg set` call, so 60 peers take 5 chunks (as in faults_test.ts).
const BUDGET = "4096";

/** The pids a wrapper wrote to `dir/pids`, one a line. */
async function pidsIn(dir: string): Promise<number[]> {
  const text = await Deno.readTextFile(`${dir}/pids`).catch(() => "");
  return text.split("\n").filter((l) => l !== "").map(Number);
}

/** Ends, by pid, whatever a wrapper started that is still running. */
async function killLeftovers(dir: string): Promise<void> {
  for (const pid of await pidsIn(dir)) {
    try {
      if (alive(pid)) Deno.kill(pid, "SIGKILL");
    } catch { /* gone meanwhile */ }
  }
}

/** Those of `pids` still alive after up to `ms`. */
async function aliveAfter(pids: readonly number[], ms: number): Promise<number[]> {
  const deadline = performance.now() + ms;
  while (pids.some(alive) && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return pids.filter(alive);
}

/** Runs the CLI and times it. */
async function timedRun(args: string[]): Promise<{ r: CliResult; seconds: number }> {
  const started = performance.now();
  const r = await runCli(args, { clockShift: 600 });
  return { r, seconds: (performance.now() - started) / 1000 };
}

for (
  const [fault, setBody, pattern] of [
    [
      "hangs without exec while a background child holds its pipes",
      `echo $$ >> @DIR@/pids
  sleep 1000 & echo $! >> @DIR@/pids
  sleep 600 & p=$!; echo $p >> @DIR@/pids; wait $p`,
      /wg set \S+ did not finish within 2 s \(--wg-timeout\)/,
    ],
    [
      "ignores SIGTERM, its children too",
      `trap '' TERM
  echo $$ >> @DIR@/pids
  sleep 1000 & echo $! >> @DIR@/pids
  sleep 600 & p=$!; echo $p >> @DIR@/pids; wait $p`,
      /wg set \S+ did not finish within 2 s \(--wg-timeout\)/,
    ],
  ] as const
) {
  Deno.test(`a wg that ${fault} is ended with its process group at --wg-timeout; no peer changes (FAKE: hanging wrapper)`, async () => {
    const { lab } = await staleLab(PEERS);
    try {
      const before = (await lab.dump()).peers;
      await withWrapper(
        `#!/bin/bash
# FAKE wg for fault injection: every call goes to the real wg, without exec
# (so bash stays its parent); "set" never runs it and hangs instead.
if [ "$1" = set ]; then
  ${setBody}
  exit 0
fi
@WG@ "$@"
`,
        async (wg, dir) => {
          try {
            const { r, seconds } = await timedRun([
              "run",
              "-i",
              lab.iface,
              "--wg",
              wg,
              "--wg-timeout",
              "2",
              "--argv-budget",
              BUDGET,
            ]);
            const pids = await pidsIn(dir);
            console.log(
              `run ended after ${seconds.toFixed(1)} s, exit ${r.code}, ${
                pids.length / 3
              } wg set calls`,
            );
            assert.ok(seconds < 20, `took ${seconds} s`);
            assert.notStrictEqual(r.code, 0, r.log);
            assert.match(r.log, pattern);
            // Each `wg set` started (the purge's, then the repair's) is a wrapper and two sleeps.
            assert.ok(pids.length >= 3 && pids.length % 3 === 0, `pids ${pids}:\n${r.log}`);
            assert.deepStrictEqual(await aliveAfter(pids, 1000), [], "the whole group is gone");
            const after = (await lab.dump()).peers;
            assert.deepStrictEqual(lost(before, after), []);
            // The call never reached wg: not even an endpoint changed.
            assert.deepStrictEqual(statesByKey(after), statesByKey(before));
          } finally {
            await killLeftovers(dir);
          }
        },
      );
    } finally {
      await lab.close();
    }
  });
}

/** Runs the CLI, sampling its peak resident memory (VmHWM) until it exits. */
async function runMeasured(args: string[]): Promise<{ r: CliResult; peakKiB: number }> {
  const proc = new CliProcess(args, { clockShift: 600 });
  let peakKiB = 0;
  let done = false;
  const sample = async () => {
    while (!done) {
      const status = await Deno.readTextFile(`/proc/${proc.child.pid}/status`).catch(() => "");
      const hwm = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
      peakKiB = Math.max(peakKiB, hwm);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const sampling = sample();
  const status = await proc.wait();
  done = true;
  await sampling;
  return {
    r: { code: status.code, stdout: proc.stdout, stderr: proc.stderr, log: proc.log },
    peakKiB,
  };
}

Deno.test("a wg set that writes 30 MB to stderr makes no large log line, status file or memory peak (FAKE: flooding wrapper)", async () => {
  const { lab } = await staleLab(PEERS);
  const stateDir = await Deno.makeTempDir({ prefix: "wr-status-" });
  try {
    const before = (await lab.dump()).peers;
    const runWith = (flood: string) =>
      withWrapper(
        `#!/bin/bash
# FAKE wg for fault injection: "set" fails without changing anything, after
# writing its error output; every other call goes to the real wg.
if [ "$1" = set ]; then
  ${flood}
  exit 1
fi
exec @WG@ "$@"
`,
        (wg) =>
          runMeasured([
            "run",
            "-i",
            lab.iface,
            "--wg",
            wg,
            "--argv-budget",
            BUDGET,
            "--status-file",
            `${stateDir}/status.json`,
          ]),
      );
    const quiet = await runWith(`echo "wg: simulated failure" >&2`);
    const flooded = await runWith(`head -c 30000000 /dev/zero | tr '\\0' x >&2`);
    const statusBytes = (await Deno.stat(`${stateDir}/status.json`)).size;
    const longestLine = Math.max(...flooded.r.log.split("\n").map((l) => l.length));
    console.log(
      `peak RSS: ${(quiet.peakKiB / 1024).toFixed(1)} MB with a one-line error, ` +
        `${(flooded.peakKiB / 1024).toFixed(1)} MB with 30 MB of it; log ${flooded.r.log.length} ` +
        `bytes (longest line ${longestLine}), status file ${statusBytes} bytes`,
    );
    for (const { r } of [quiet, flooded]) {
      assert.strictEqual(r.code, 1, r.log);
      assert.match(r.log, /wg set \S+ failed: /);
    }
    assert.ok(flooded.r.log.length < OUTPUT_CAP_BYTES, `log of ${flooded.r.log.length} bytes`);
    assert.ok(statusBytes < OUTPUT_CAP_BYTES, `status file of ${statusBytes} bytes`);
    assert.ok(quiet.peakKiB > 0 && flooded.peakKiB > 0, "memory was sampled");
    assert.ok(
      flooded.peakKiB - quiet.peakKiB < 16 * 1024,
      `peak RSS ${quiet.peakKiB} KiB, flooded ${flooded.peakKiB} KiB`,
    );
    assert.deepStrictEqual(lost(before, (await lab.dump()).peers), []);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
    await lab.close();
  }
});

/** The process group of `pid`, from /proc. */
function groupOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
}

/**
 * Starts the CLI in a session and process group of its own (`setsid`), as a
 * shell starts a job, and sends `signal` to its whole group once `started`
 * exists: what a terminal does when it closes (SIGHUP) or on Ctrl-C
 * (SIGINT). Returns its exit status and output.
 */
async function signalGroupOfRun(
  args: string[],
  started: string,
  signal: Deno.Signal,
): Promise<{ status: Deno.CommandStatus; log: string; pgid: number }> {
  const { cmd, env } = cliCommand(args, { clockShift: 600 });
  let log = "";
  const child = new Deno.Command("setsid", {
    args: cmd,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = child.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (t) => void (log += t) }),
  );
  const err = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (t) => void (log += t) }),
  );
  let pgid = 0;
  try {
    await waitForFile(started);
    pgid = groupOf(child.pid);
    // Only ever the group this test started, never its own.
    assert.strictEqual(pgid, child.pid, "setsid gave the CLI a group of its own");
    assert.notStrictEqual(pgid, groupOf(Deno.pid));
    Deno.kill(-pgid, signal);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  } finally {
    await Promise.all([out, err]);
  }
  return { status: await child.status, log, pgid };
}

Deno.test("SIGHUP to the process group of a run mid-purge loses no peer and ends it as SIGTERM does", async () => {
  const runs: Record<string, { code: number; stopped: boolean }> = {};
  for (const signal of ["SIGHUP", "SIGTERM"] as const) {
    const { lab } = await staleLab(PEERS);
    const stateDir = await Deno.makeTempDir({ prefix: "wr-status-" });
    try {
      const before = (await lab.dump()).peers;
      await withWrapper(
        `#!/bin/bash
# Not a fake: the real wg, each "set" started 0.3 s late, so that the purge
# spans several calls and the signal comes in the middle of it.
if [ "$1" = set ]; then echo $$ >> @DIR@/sets; sleep 0.3; fi
exec @WG@ "$@"
`,
        async (wg, dir) => {
          const started = performance.now();
          const { status, log } = await signalGroupOfRun(
            [
              "run",
              "-i",
              lab.iface,
              "--wg",
              wg,
              "--argv-budget",
              BUDGET,
              "--status-file",
              `${stateDir}/status.json`,
            ],
            `${dir}/sets`,
            signal,
          );
          const seconds = (performance.now() - started) / 1000;
          const file = JSON.parse(await Deno.readTextFile(`${stateDir}/status.json`));
          const iface = file.lastCycle.interfaces[0];
          const calls = (await Deno.readTextFile(`${dir}/sets`)).trim().split("\n").length;
          const after = (await lab.dump()).peers;
          const purged = after.filter((p) => p.endpoint === null).length;
          console.log(
            `${signal} to the run's group: exit ${status.code} after ${seconds.toFixed(1)} s, ` +
              `${calls} wg set calls, ${purged} peers purged, ${iface.stoppedEarly} left for ` +
              `the next cycle, ${lost(before, after).length} lost or changed`,
          );
          assert.strictEqual(status.signal, null, `not ended by ${signal} itself:\n${log}`);
          assert.match(log, /stopping on request/);
          assert.ok(iface.stoppedEarly > 0, "the stop came mid-purge");
          assert.strictEqual(purged + iface.stoppedEarly, PEERS, "purged, or left as it was");
          assert.deepStrictEqual(lost(before, after), []);
          runs[signal] = { code: status.code, stopped: iface.stoppedEarly > 0 };
        },
      );
    } finally {
      await Deno.remove(stateDir, { recursive: true });
      await lab.close();
    }
  }
  assert.deepStrictEqual(runs.SIGHUP, runs.SIGTERM);
  assert.strictEqual(runs.SIGHUP.code, 1);
});
