/**
 * The status and metrics files are checked before a cycle changes anything:
 * a path that could not be written, or the two files being one, stops `run`
 * with exit 2 and one line naming the setting and the path, and the FAKE
 * `wg` sees no `set`; the daemon's runner refuses the same paths at start
 * and on reload ({@link CycleRunner.check}), and before each cycle.
 */
import assert from "node:assert/strict";
import { CycleRunner } from "../../src/cli/cycle_runner.ts";
import type { SignalSource } from "../../src/cli/signals.ts";
import { UnsafePathError } from "../../src/common/errors.ts";
import { resolveSettings } from "../../src/config/schema.ts";
import { main } from "../../src/main.ts";
import { FakeWg } from "../support/fake_wg.ts";
import { withLogs } from "../support/log_capture.ts";
import { key, peer } from "../support/peers.ts";

const NOW = 100_000;
const ROOT = Deno.uid() === 0;
/** How long `run` may take before the test calls it hung (today's code blocks on a FIFO). */
const HANG_MS = 10_000;
const EMPTY = Deno.makeTempFileSync({ prefix: "wr-out-", suffix: ".conf" });
globalThis.addEventListener("unload", () => Deno.removeSync(EMPTY));

/** One stale peer: a cycle that got as far as the purge would call `wg set`. */
function staleWg(): FakeWg {
  return new FakeWg().addInterface("wg0", [
    peer({ publicKey: key("a"), latestHandshake: NOW - 600 }),
  ]);
}

async function run(cmd: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "null" })
    .output();
  if (code !== 0) throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(stderr)}`);
}

/** Runs `fn` with what the process writes to stderr (where the logger puts errors) captured. */
async function withStderr<T>(fn: () => Promise<T>): Promise<{ result: T; stderr: string }> {
  const stderr = Deno.stderr as unknown as { writeSync(bytes: Uint8Array): number };
  const original = stderr.writeSync;
  const decoder = new TextDecoder();
  let text = "";
  stderr.writeSync = (bytes) => {
    text += decoder.decode(bytes);
    return bytes.length;
  };
  try {
    return { result: await fn(), stderr: text };
  } finally {
    stderr.writeSync = original;
  }
}

class NoSignals implements SignalSource {
  add() {}
  remove() {}
}

/** A bad output path, made in `dir`. */
interface Case {
  name: string;
  /** Makes what is needed in `dir`; returns the status and metrics paths. */
  setup: (dir: string) => Promise<{ statusFile?: string; metricsFile: string | null }>;
  /** The error, with `DIR` for the test's directory. */
  error: string;
  /** Undoes what the setup did outside the directory's contents (mounts, attributes). */
  cleanup?: (dir: string) => Promise<void>;
  /** Unblocks a `run` that hung on what the setup made. */
  release?: (dir: string) => Promise<void>;
  ignore?: boolean;
}

/** The status file of the cases that name none: in the test's directory. */
const statusIn = (dir: string) => `${dir}/status.json`;

const CASES: Case[] = [
  {
    name: "a directory where the status file goes",
    setup: async (dir) => {
      await Deno.remove(statusIn(dir));
      await Deno.mkdir(statusIn(dir));
      return { metricsFile: null };
    },
    error:
      "status-file: DIR/status.json is a directory, not a regular file; refusing to write there",
  },
  {
    name: "a FIFO where the status file goes",
    setup: async (dir) => {
      await Deno.remove(statusIn(dir));
      await run(["mkfifo", statusIn(dir)]);
      return { metricsFile: null };
    },
    error: "status-file: DIR/status.json is a FIFO, not a regular file; refusing to write there",
    // Today's code reads the FIFO back after the purge: a writer lets that read end.
    release: async (dir) => (await Deno.open(statusIn(dir), { write: true })).close(),
  },
  {
    name: "a FIFO where the metrics file goes",
    setup: async (dir) => {
      await run(["mkfifo", `${dir}/metrics.prom`]);
      return { metricsFile: `${dir}/metrics.prom` };
    },
    error: "metrics-file: DIR/metrics.prom is a FIFO, not a regular file; refusing to write there",
  },
  {
    name: "a status file under /proc",
    setup: () => Promise.resolve({ statusFile: "/proc/sys/net/wr-out.json", metricsFile: null }),
    error:
      "status-file: /proc/sys/net/wr-out.json is on /proc, a kernel file system; refusing to write there",
  },
  {
    name: "a metrics file under /sys",
    setup: () => Promise.resolve({ metricsFile: "/sys/kernel/wr-out.prom" }),
    error:
      "metrics-file: /sys/kernel/wr-out.prom is on /sys, a kernel file system; refusing to write there",
  },
  {
    name: "a status file on a read-only file system (root: a read-only tmpfs)",
    ignore: !ROOT,
    setup: async (dir) => {
      await Deno.mkdir(`${dir}/ro`);
      await run(["mount", "-t", "tmpfs", "-o", "ro,mode=0700,size=64k", "wr-out", `${dir}/ro`]);
      return { statusFile: `${dir}/ro/status.json`, metricsFile: null };
    },
    error: "status-file: DIR/ro/status.json cannot be written: read-only file system",
    cleanup: (dir) => run(["umount", `${dir}/ro`]),
  },
  {
    name: "a metrics directory this process cannot write (0500; for root, immutable)",
    setup: async (dir) => {
      await Deno.mkdir(`${dir}/locked`, { mode: 0o700 });
      if (ROOT) await run(["chattr", "+i", `${dir}/locked`]);
      else await Deno.chmod(`${dir}/locked`, 0o500);
      return { metricsFile: `${dir}/locked/metrics.prom` };
    },
    error: "metrics-file: DIR/locked/metrics.prom cannot be written: permission denied",
    cleanup: async (dir) => {
      if (ROOT) await run(["chattr", "-i", `${dir}/locked`]);
      else await Deno.chmod(`${dir}/locked`, 0o700);
    },
  },
  {
    name: "the metrics file named as the status file",
    setup: (dir) => Promise.resolve({ metricsFile: statusIn(dir) }),
    error:
      "metrics-file: DIR/status.json is the same file as status-file DIR/status.json; refusing to write there",
  },
  {
    name: "the status file again, through ..",
    setup: async (dir) => {
      await Deno.mkdir(`${dir}/sub`);
      return { metricsFile: `${dir}/sub/../status.json` };
    },
    error:
      "metrics-file: DIR/sub/../status.json is the same file as status-file DIR/status.json; refusing to write there",
  },
  {
    name: "the status file again, through a linked parent directory",
    setup: async (dir) => {
      await Deno.mkdir(`${dir}/real`, { mode: 0o700 });
      await Deno.symlink(dir, `${dir}/link`);
      return { statusFile: `${dir}/real/s.json`, metricsFile: `${dir}/link/real/s.json` };
    },
    error:
      "metrics-file: DIR/link/real/s.json is the same file as status-file DIR/real/s.json; refusing to write there",
  },
  {
    name: "a symbolic link to the status file",
    setup: async (dir) => {
      await Deno.symlink(statusIn(dir), `${dir}/metrics.prom`);
      return { metricsFile: `${dir}/metrics.prom` };
    },
    error:
      "metrics-file: DIR/metrics.prom is the same file as status-file DIR/status.json; refusing to write there",
  },
  {
    name: "a hard link to the status file",
    setup: async (dir) => {
      await Deno.link(statusIn(dir), `${dir}/metrics.prom`);
      return { metricsFile: `${dir}/metrics.prom` };
    },
    error:
      "metrics-file: DIR/metrics.prom is the same file as status-file DIR/status.json; refusing to write there",
  },
];

/**
 * Waits for `running`. One that outlives {@link HANG_MS} (today's code
 * reads a FIFO at the status file's path back, and waits for a writer) is
 * unblocked with the case's `release`, and fails.
 */
async function settle<T>(running: Promise<T>, c: Case, dir: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<"hung">((resolve) => {
    timer = setTimeout(() => resolve("hung"), HANG_MS);
  });
  try {
    const first = await Promise.race([running, hung]);
    if (first !== "hung") return first;
  } finally {
    clearTimeout(timer);
  }
  await c.release?.(dir);
  await running.catch(() => {});
  assert.fail(`did not end within ${HANG_MS} ms`);
}

/** What the status file holds before each case's setup: a bad path must leave it as it is. */
const BEFORE = "the status file before the run\n";

Deno.test("run refuses a status or metrics file it could not write before any change, exit 2 (FAKE)", async (t) => {
  for (const c of CASES) {
    await t.step({
      name: c.name,
      ignore: c.ignore,
      fn: async () => {
        const dir = await Deno.makeTempDir({ prefix: "wr-out-" });
        // Before the case's setup: a link to the status file needs it there.
        await Deno.writeTextFile(statusIn(dir), BEFORE);
        let paths;
        try {
          paths = await c.setup(dir);
          const statusFile = paths.statusFile ?? statusIn(dir);
          const wg = staleWg();
          const argv = [
            "run",
            "-i",
            "wg0",
            "--lock-dir",
            dir,
            "--key-dir",
            dir,
            "--wg-quick-config",
            EMPTY,
            "--status-file",
            statusFile,
            ...(paths.metricsFile === null ? [] : ["--metrics-file", paths.metricsFile]),
          ];
          const { result: code, stderr } = await settle(
            withStderr(() => main(argv, { wgFor: () => wg, now: () => NOW, print() {} })),
            c,
            dir,
          );
          assert.deepStrictEqual(wg.sets, [], "no wg set");
          assert.strictEqual(code, 2, stderr);
          const expected = c.error.replaceAll("DIR", dir);
          const lines = stderr.trimEnd().split("\n");
          assert.strictEqual(lines.length, 1, stderr);
          assert.strictEqual(lines[0].replace(/^.*\[ERR\] wg-reinstate·main: /, ""), expected);
          if (paths.statusFile === undefined && (await Deno.lstat(statusIn(dir))).isFile) {
            assert.strictEqual(await Deno.readTextFile(statusIn(dir)), BEFORE, "status unchanged");
          }
        } finally {
          await c.cleanup?.(dir);
          await Deno.remove(dir, { recursive: true });
        }
      },
    });
  }
});

Deno.test("CycleRunner refuses the same paths before a cycle, at start and on reload, as the daemon runs it (FAKE)", async (t) => {
  for (const c of CASES) {
    await t.step({
      name: c.name,
      ignore: c.ignore,
      fn: async () => {
        const dir = await Deno.makeTempDir({ prefix: "wr-out-" });
        await Deno.writeTextFile(statusIn(dir), BEFORE);
        const values = { wgQuickConfig: EMPTY, lockDir: dir, keyDir: dir };
        const good = resolveSettings([{
          source: "test",
          values: { ...values, statusFile: `${dir}/good/status.json` },
        }]);
        const wg = staleWg();
        let runner: CycleRunner | null = null;
        try {
          const paths = await c.setup(dir);
          const bad = { ...good, statusFile: paths.statusFile ?? statusIn(dir), ...paths };
          const refused = (e: unknown) => {
            assert.ok(e instanceof UnsafePathError, String(e));
            assert.strictEqual(e.exitCode, 2);
            assert.strictEqual(e.message, c.error.replaceAll("DIR", dir));
            return true;
          };
          runner = new CycleRunner(bad, {
            wgFor: () => wg,
            now: () => NOW,
            daemon: true,
            signals: new NoSignals(),
          });
          await assert.rejects(settle(withLogs(() => runner!.cycle()), c, dir), refused);
          assert.deepStrictEqual(wg.calls, [], "no wg call at all");
          // At start: the settings given; on reload: new settings, before they are taken.
          await assert.rejects(runner.check(), refused);
          runner.update(good);
          await runner.check();
          await assert.rejects(runner.check(bad), refused);
        } finally {
          runner?.dispose();
          await c.cleanup?.(dir);
          await Deno.remove(dir, { recursive: true });
        }
      },
    });
  }
});

Deno.test("CycleRunner.check passes a status and a metrics file it can write, and writes neither", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wr-out-" });
  const settings = resolveSettings([{
    source: "test",
    values: {
      wgQuickConfig: EMPTY,
      statusFile: `${dir}/run/status.json`,
      metricsFile: `${dir}/prom/wg_reinstate.prom`,
    },
  }]);
  const runner = new CycleRunner(settings, {
    wgFor: () => staleWg(),
    now: () => NOW,
    daemon: true,
    signals: new NoSignals(),
  });
  try {
    await runner.check();
    // The directories are made (as a cycle makes them), empty: no probe file is left.
    assert.deepStrictEqual([...Deno.readDirSync(`${dir}/run`)], []);
    assert.deepStrictEqual([...Deno.readDirSync(`${dir}/prom`)], []);
    assert.strictEqual((await Deno.stat(`${dir}/prom`)).mode! & 0o777, 0o755);
  } finally {
    runner.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
