/**
 * The CLI as a process, unprivileged and without WireGuard: its version,
 * one-line errors with the right exit code, a missing `wg`, a `wg` that
 * hangs (a FAKE wrapper), and a `run` that takes SIGHUP as a stop request.
 * The same failures against real wireguard-go are in
 * tests/lab/cli_errors_test.ts, and SIGHUP to a run's whole process group in
 * tests/lab/wg_bounds_test.ts.
 */
import assert from "node:assert/strict";
import { BAD_FLAGS } from "../support/bad_flags.ts";
import { CliProcess, runCli } from "../harness/cli.ts";
import { VERSION } from "../../src/common/version.ts";
import { withWrapper } from "../support/wrappers.ts";

function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => /\[ERR\]|^wg-reinstate: /.test(l));
}

Deno.test("cli prints its version from deno.json", async () => {
  const r = await runCli(["--version"]);
  assert.strictEqual(r.code, 0);
  assert.strictEqual(r.stdout, `wg-reinstate ${VERSION}\n`);
});

Deno.test("cli exits 2 with the one-voice line for bad flags, as a process", async (t) => {
  // A few of the parser's cases, through a real process: stderr, not a log line.
  const cases = BAD_FLAGS.filter((_, i) => i % 5 === 0);
  for (const [args, message] of cases) {
    await t.step(JSON.stringify(args), async () => {
      const r = await runCli(args);
      assert.strictEqual(r.code, 2);
      assert.strictEqual(r.stderr, `wg-reinstate: ${message}\n`);
      assert.strictEqual(r.stdout, "");
    });
  }
});

Deno.test("cli names a missing wg binary", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wr-unit-" });
  try {
    const r = await runCli(["run", "--wg", "/nonexistent/wg", "--status-file", `${dir}/s.json`]);
    assert.strictEqual(r.code, 1);
    assert.deepStrictEqual(errorLines(r.stderr).length, 1);
    assert.match(r.stderr, /wg binary not found at "\/nonexistent\/wg": install wireguard-tools/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli gives up on a hanging wg after --wg-timeout (FAKE: hanging wrapper)", async () => {
  const r = await withWrapper(
    `#!/bin/sh\n# FAKE wg for fault injection: hangs instead of answering.\nexec sleep 30\n`,
    (wg) => runCli(["status", "--wg", wg, "--wg-timeout", "1"]),
  );
  assert.strictEqual(r.code, 1);
  assert.strictEqual(errorLines(r.stderr).length, 1, r.stderr);
  assert.match(r.stderr, /wg show all did not finish within 1 s \(--wg-timeout\)/);
});

Deno.test("cli stops within procd's 30 s after SIGTERM although --wg-timeout is 600 (FAKE: wg set hangs)", async () => {
  const statusDir = await Deno.makeTempDir({ prefix: "wr-status-" });
  try {
    await withWrapper(
      `#!/bin/sh
# FAKE wg for fault injection: one interface with one long-idle peer; "set" hangs.
case "$1 $2" in
  "show interfaces") echo wg0 ;;
  "show all"|"show wg0")
    [ "$2" = all ] && p="wg0	" || p=""
    printf '%s%s\\t%s\\t51820\\toff\\n' "$p" "${"B".repeat(42)}A=" "${"C".repeat(42)}A="
    printf '%s%s\\t(none)\\t192.0.2.1:5555\\t10.0.0.2/32\\t%s\\t1\\t1\\toff\\n' "$p" \\
      "${"D".repeat(42)}A=" "$(( $(date +%s) - 1000 ))" ;;
  "set wg0") touch @DIR@/set-started; exec sleep 1000 ;;
esac
`,
      async (wg, dir) => {
        const proc = new CliProcess([
          "run",
          "--wg",
          wg,
          "--wg-timeout",
          "600",
          "--lock-dir",
          statusDir,
          "--key-dir",
          statusDir,
          "--status-file",
          `${statusDir}/status.json`,
          "--wg-quick-config",
          new URL("../fixtures/wg-quick-empty.conf", import.meta.url).pathname,
        ]);
        const started = () => Deno.stat(`${dir}/set-started`).then(() => true, () => false);
        for (let i = 0; !(await started()); i++) {
          if (i > 400) {
            await proc.stop("SIGKILL");
            assert.fail(`wg set never started:\n${proc.log}`);
          }
          await new Promise((r) => setTimeout(r, 50));
        }
        const asked = performance.now();
        const status = await proc.stop("SIGTERM");
        const seconds = (performance.now() - asked) / 1000;
        assert.strictEqual(status.code, 1, proc.log);
        assert.match(proc.log, /still running 15 s after the stop request; ended/);
        assert.ok(seconds < 30, `took ${seconds} s after SIGTERM`);
        console.log(`exited ${seconds.toFixed(1)} s after SIGTERM`);
      },
    );
  } finally {
    await Deno.remove(statusDir, { recursive: true });
  }
});

/** A status file's contents without its times, which differ between two runs. */
function withoutTimes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTimes);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).filter(([k]) => !/At$|^since$|^uptime$|Seconds$/.test(k))
      .map(([k, v]) => [k, withoutTimes(v)]),
  );
}

Deno.test("cli run takes SIGHUP as it takes SIGTERM: the wg call finishes, the status file is written (FAKE: slow wg set)", async (t) => {
  const ran: Record<string, { code: number; signal: Deno.Signal | null; status: unknown }> = {};
  for (const signal of ["SIGTERM", "SIGHUP"] as const) {
    await t.step(signal, async () => {
      const statusDir = await Deno.makeTempDir({ prefix: "wr-status-" });
      try {
        await withWrapper(
          `#!/bin/sh
# FAKE wg: one interface with one long-idle peer; "set" takes a second, then succeeds.
case "$1 $2" in
  "show interfaces") echo wg0 ;;
  "show all"|"show wg0")
    [ "$2" = all ] && p="wg0	" || p=""
    printf '%s%s\\t%s\\t51820\\toff\\n' "$p" "${"B".repeat(42)}A=" "${"C".repeat(42)}A="
    printf '%s%s\\t(none)\\t192.0.2.1:5555\\t10.0.0.2/32\\t%s\\t1\\t1\\toff\\n' "$p" \\
      "${"D".repeat(42)}A=" "$(( $(date +%s) - 1000 ))" ;;
  "set wg0") touch @DIR@/set-started; sleep 1; touch @DIR@/set-done ;;
esac
`,
          async (wg, dir) => {
            const proc = new CliProcess([
              "run",
              "--wg",
              wg,
              "--lock-dir",
              statusDir,
              "--key-dir",
              statusDir,
              "--status-file",
              `${statusDir}/status.json`,
              "--wg-quick-config",
              new URL("../fixtures/wg-quick-empty.conf", import.meta.url).pathname,
            ]);
            const started = () => Deno.stat(`${dir}/set-started`).then(() => true, () => false);
            for (let i = 0; !(await started()); i++) {
              if (i > 400) {
                await proc.stop("SIGKILL");
                assert.fail(`wg set never started:\n${proc.log}`);
              }
              await new Promise((r) => setTimeout(r, 25));
            }
            const status = await proc.stop(signal);
            assert.ok(
              await Deno.stat(`${dir}/set-done`).then(() => true, () => false),
              "the call finished",
            );
            const file = JSON.parse(await Deno.readTextFile(`${statusDir}/status.json`));
            ran[signal] = {
              code: status.code,
              signal: status.signal,
              status: withoutTimes(file),
            };
          },
        );
      } finally {
        await Deno.remove(statusDir, { recursive: true });
      }
    });
  }
  assert.strictEqual(ran.SIGHUP.signal, null, "not ended by the signal's default action");
  assert.deepStrictEqual(ran.SIGHUP, ran.SIGTERM);
});
