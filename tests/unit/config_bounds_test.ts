/**
 * Config files (`--uci`, `--config`, `--network`, `--wg-quick-config`) are
 * regular files of at most MAX_CONFIG_BYTES: a FIFO or a device is refused
 * at once, a larger file is refused naming the limit, each with exit 2; and
 * a value just under the limit parses in linear time and memory.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../src/common/errors.ts";
import { loadProtection } from "../../src/config/protection.ts";
import {
  FileTooLargeError,
  MAX_CONFIG_BYTES,
  NotRegularFileError,
  readRegularText,
} from "../../src/config/read_file.ts";
import { resolveSettings } from "../../src/config/schema.ts";
import { loadWireguardNetwork } from "../../src/config/uci_network.ts";
import { main } from "../../src/main.ts";
import { CliProcess } from "../harness/cli.ts";
import { FakeWg } from "../support/fake_wg.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** How long a process may take to refuse a file before the test calls it hung and ends it. */
const PROMPT_MS = 20_000;
const LIMIT = "larger than the limit of 32 MiB (33554432 bytes)";

/** Runs the CLI as a process, ended with SIGKILL when it outlives `ms`: a hang fails, never blocks. */
async function runWithin(args: string[], ms: number) {
  const proc = new CliProcess(args);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const started = performance.now();
  const killed = new Promise<"killed">((resolve) => {
    timer = setTimeout(() => resolve("killed"), ms);
  });
  const first = await Promise.race([proc.wait(), killed]);
  clearTimeout(timer);
  const status = first === "killed" ? await proc.stop("SIGKILL") : first;
  return {
    hung: first === "killed",
    seconds: (performance.now() - started) / 1000,
    code: status.code,
    stderr: proc.stderr,
  };
}

/** The one error line of a run: plain before logging starts, a log line after. */
function errorLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  assert.strictEqual(lines.length, 1, stderr);
  return lines[0].replace(/^wg-reinstate: |^.*\[ERR\] wg-reinstate·main: /, "");
}

async function mkfifo(path: string): Promise<void> {
  const { code } = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.strictEqual(code, 0, `mkfifo ${path}`);
}

Deno.test("cli refuses a FIFO or a device as a config file at once, exit 2 (process)", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "wr-bounds-" });
  const fifo = `${dir}/fifo`;
  await mkfifo(fifo);
  const cases: [string, string[], string][] = [
    [
      "--uci /dev/zero",
      ["run", "--uci", "/dev/zero"],
      "/dev/zero: cannot read UCI file: is a character device, not a regular file",
    ],
    [
      "--uci FIFO",
      ["run", "--uci", fifo],
      `${fifo}: cannot read UCI file: is a FIFO, not a regular file`,
    ],
    [
      "--config FIFO",
      ["run", "--config", fifo],
      `${fifo}: cannot read config file: is a FIFO, not a regular file`,
    ],
    [
      "--network FIFO",
      ["config", "-i", "wg0", "--wg-quick-config", `${dir}/none.conf`, "--network", fifo],
      `${fifo}: cannot read UCI file: is a FIFO, not a regular file`,
    ],
    [
      "--wg-quick-config FIFO",
      ["config", "-i", "wg0", "--wg-quick-config", fifo],
      `wg-quick-config: ${fifo}: is a FIFO, not a regular file`,
    ],
  ];
  await Deno.writeTextFile(`${dir}/none.conf`, "");
  try {
    for (const [name, args, message] of cases) {
      await t.step(name, async () => {
        const r = await runWithin(args, PROMPT_MS);
        assert.ok(!r.hung, `still running after ${PROMPT_MS} ms: ended`);
        assert.strictEqual(r.code, 2, r.stderr);
        assert.strictEqual(errorLine(r.stderr), message);
        console.log(`${name}: refused in ${r.seconds.toFixed(2)} s`);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main refuses a config file over 32 MiB naming the limit, exit 2, and runs nothing (FAKE)", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "wr-bounds-" });
  // Sparse: the size is what counts, not the blocks.
  const big = `${dir}/big`;
  await Deno.writeFile(big, new Uint8Array());
  await Deno.truncate(big, MAX_CONFIG_BYTES + 1);
  const cases: [string, string[], string][] = [
    ["--uci", ["--uci", big], `${big}: cannot read UCI file: ${LIMIT}`],
    ["--config", ["--config", big], `${big}: cannot read config file: ${LIMIT}`],
  ];
  try {
    for (const [name, flags, message] of cases) {
      await t.step(name, async () => {
        const wg = new FakeWg().addInterface("wg0", []);
        let err = "";
        const paths = ["--status-file", `${dir}/s.json`, "--lock-dir", dir, "--key-dir", dir];
        const code = await main(["run", "-i", "wg0", ...paths, ...flags], {
          wgFor: () => wg,
          now: () => 0,
          print: () => {},
          printError: (text) => (err += text),
        });
        assert.strictEqual(code, 2);
        assert.strictEqual(err, `wg-reinstate: ${message}\n`);
        assert.deepStrictEqual(wg.calls, []);
      });
    }
    const settings = resolveSettings([{ source: "t", values: { wgQuickConfig: big } }]);
    await t.step("--wg-quick-config", async () => {
      await assert.rejects(
        loadProtection(settings, "wg0", { network: null, peers: [] }),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError, String(e));
          assert.strictEqual(e.message, `wg-quick-config: ${big}: ${LIMIT}`);
          assert.ok(e.cause instanceof FileTooLargeError);
          return true;
        },
      );
    });
    await t.step("--network", async () => {
      await assert.rejects(loadWireguardNetwork(big), {
        name: "ConfigError",
        message: `${big}: cannot read UCI file: ${LIMIT}`,
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readRegularText reads a file of exactly the limit, and what stat calls empty, whole", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "wr-bounds-" });
  try {
    await t.step("a file of exactly MAX_CONFIG_BYTES", async () => {
      const path = `${dir}/full`;
      await Deno.writeFile(path, new Uint8Array());
      await Deno.truncate(path, MAX_CONFIG_BYTES);
      assert.strictEqual((await readRegularText(path)).length, MAX_CONFIG_BYTES);
    });
    await t.step("a /proc file, whose size says 0", async () => {
      assert.strictEqual((await Deno.stat("/proc/self/status")).size, 0);
      assert.match(await readRegularText("/proc/self/status"), /^Name:.*\n[\s\S]*\nPid:\t\d+\n/);
    });
    await t.step("a limit passed by growing past it", async () => {
      await assert.rejects(readRegularText("/proc/self/status", 16), FileTooLargeError);
    });
    await t.step("a FIFO, refused before it is opened", async () => {
      await mkfifo(`${dir}/fifo`);
      await assert.rejects(readRegularText(`${dir}/fifo`), NotRegularFileError);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadUciSettings reads a 30 MB value in linear time and bounded memory (process, 256 MB heap)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wr-bounds-" });
  try {
    const path = `${dir}/big.uci`;
    const value = 30 * 1024 * 1024;
    await Deno.writeTextFile(
      path,
      `config wg-reinstate 'main'\n\toption wg '/${"w".repeat(value - 1)}'\n`,
    );
    assert.ok((await Deno.stat(path)).size < MAX_CONFIG_BYTES);
    // The old scanner built the value one character at a time: 1.8 GB for 50 MB.
    const script = `
      import { loadUciSettings } from "./src/config/uci_settings.ts";
      const started = performance.now();
      const layer = await loadUciSettings(${JSON.stringify(path)});
      const ms = performance.now() - started;
      const { rss, heapUsed } = Deno.memoryUsage();
      console.log(JSON.stringify({ ms, rss, heapUsed, length: layer.values.wg.length }));
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--v8-flags=--max-old-space-size=256", script],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    const out = await child.output();
    clearTimeout(timer);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.strictEqual(out.code, 0, stderr.slice(-2000));
    const measured = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.strictEqual(measured.length, value);
    const mb = (bytes: number) => (bytes / 1048576).toFixed(0);
    console.log(
      `30 MB UCI value: read, parsed and checked in ${measured.ms.toFixed(0)} ms; ` +
        `rss ${mb(measured.rss)} MB, V8 heap ${mb(measured.heapUsed)} MB`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
