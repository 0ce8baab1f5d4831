/**
 * Log lines reach the right stream at the right priority: debug and info on
 * stdout, warning and error on stderr; no time stamp of ours where journald
 * stamps lines, and sd-daemon priority prefixes on the streams it reads.
 */
import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { cliCommand } from "../harness/cli.ts";
import {
  LOG_CATEGORY,
  logStyle,
  startLogging,
  stopLogging,
  streamSink,
} from "../../src/cli/log.ts";
import { withWrapper } from "../support/wrappers.ts";

const EMPTY_CONF = new URL("../fixtures/wg-quick-empty.conf", import.meta.url).pathname;
const NO_JOURNAL = { journalStream: undefined, streamId: () => "1:2" };

Deno.test("logStyle drops our time stamp only where journald reads the stream", () => {
  assert.deepStrictEqual(logStyle("auto", false, NO_JOURNAL), {
    timestamps: true,
    allToStderr: false,
    journal: { stdout: false, stderr: false },
  });
  const journald = { journalStream: "8:99", streamId: (fd: 1 | 2) => (fd === 2 ? "8:99" : "8:98") };
  assert.deepStrictEqual(logStyle("auto", false, journald), {
    timestamps: false,
    allToStderr: false,
    journal: { stdout: false, stderr: true },
  });
  // An inherited JOURNAL_STREAM whose stream is not ours: a terminal keeps its format.
  const inherited = { journalStream: "8:99", streamId: () => "3:4" };
  assert.strictEqual(logStyle("auto", false, inherited).timestamps, true);
  assert.strictEqual(logStyle("off", false, NO_JOURNAL).timestamps, false);
  assert.strictEqual(logStyle("on", false, journald).timestamps, true);
  // --json: stdout carries the document, so nothing is logged there.
  const both = { journalStream: "8:99", streamId: () => "8:99" };
  assert.deepStrictEqual(logStyle("auto", true, both).journal, { stdout: false, stderr: true });
});

Deno.test("streamSink sends info to stdout and warnings to stderr, with priority prefixes", () => {
  const lines: [string, string][] = [];
  const style = logStyle("auto", false, { journalStream: "1:1", streamId: () => "1:1" });
  startLogging({ logLevel: "debug" }, streamSink("text", style, (s, l) => lines.push([s, l])));
  try {
    const log = getLogger([LOG_CATEGORY, "t"]);
    log.debug("d");
    log.info("i at 192.0.2.7:51820");
    log.warning("w");
    log.error("e");
  } finally {
    stopLogging();
  }
  assert.deepStrictEqual(lines, [
    ["stdout", "<7>[DBG] wg-reinstate·t: d\n"],
    ["stdout", "<6>[INF] wg-reinstate·t: i at redacted-ipv4:*\n"],
    ["stderr", "<4>[WRN] wg-reinstate·t: w\n"],
    ["stderr", "<3>[ERR] wg-reinstate·t: e\n"],
  ]);
});

/** A FAKE wg with one interface and no peers: enough for a cycle that logs info. */
const EMPTY_WG = `#!/bin/sh
# FAKE wg: one interface, no peers.
case "$1 $2" in
  "show interfaces") echo wg0 ;;
  "show wg0") printf '%s\\t%s\\t51820\\toff\\n' "${"B".repeat(42)}A=" "${"C".repeat(42)}A=" ;;
esac
`;

/** Runs the CLI with stdout and stderr to two files; returns their text. */
async function runToFiles(
  dir: string,
  args: string[],
  env: (out: Deno.FileInfo, err: Deno.FileInfo) => Record<string, string> = () => ({}),
) {
  const { cmd, env: base } = cliCommand(args);
  const [out, err] = [`${dir}/out`, `${dir}/err`];
  await Deno.writeTextFile(out, "");
  await Deno.writeTextFile(err, "");
  const quoted = cmd.map((a) => `'${a}'`).join(" ");
  const status = await new Deno.Command("sh", {
    args: ["-c", `exec ${quoted} >>'${out}' 2>>'${err}'`],
    env: { ...base, ...env(await Deno.stat(out), await Deno.stat(err)) },
  }).output();
  return {
    code: status.code,
    stdout: await Deno.readTextFile(out),
    stderr: await Deno.readTextFile(err),
  };
}

Deno.test("cli writes info to stdout and warnings to stderr through the real streams, text and JSON", async () => {
  await withWrapper(EMPTY_WG, async (wg, dir) => {
    const common = [
      "run",
      "-i",
      "wg0",
      "--wg",
      wg,
      "--lock-dir",
      dir,
      "--key-dir",
      dir,
      "--status-file",
      `${dir}/status.json`,
      "--wg-quick-config",
      EMPTY_CONF,
      "--stale-after",
      "60",
      "--force-short-threshold",
    ];
    const text = await runToFiles(dir, common);
    assert.strictEqual(text.code, 0, text.stderr);
    assert.match(text.stdout, /^\d{4}-\d\d-\d\d [\d:.]+ \+00 \[INF\] .*wg0: 0 peers checked/m);
    assert.match(text.stdout, /\[INF\] .*cycle done/);
    assert.doesNotMatch(text.stdout, /\[WRN\]|\[ERR\]/);
    assert.match(text.stderr, /^\d{4}-.* \[WRN\] .*stale-after is 60 s/m);
    assert.doesNotMatch(text.stderr, /\[INF\]/);

    const json = await runToFiles(dir, [...common, "--log-format", "json"]);
    const records = (s: string) => s.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepStrictEqual([...new Set(records(json.stdout).map((r) => r.level))], ["info"]);
    assert.deepStrictEqual(records(json.stderr).map((r) => r.level), ["warning"]);
    assert.ok(records(json.stdout).every((r) => typeof r["@timestamp"] === "string"));
  });
});

Deno.test("cli under journald prints no time stamp and prefixes each line with its priority", async () => {
  await withWrapper(EMPTY_WG, async (wg, dir) => {
    // systemd's JOURNAL_STREAM names the stream it connected: here, stderr's file.
    const underJournald = (iface: string) =>
      runToFiles(
        dir,
        ["run", "-i", iface, "--wg", wg, "--lock-dir", dir, "--key-dir", dir]
          .concat(["--status-file", `${dir}/s.json`])
          .concat(["--wg-quick-config", EMPTY_CONF]),
        (_out, err) => ({ JOURNAL_STREAM: `${err.dev}:${err.ino}` }),
      );
    const r = await underJournald("wg0");
    assert.strictEqual(r.code, 0, r.stderr);
    // stdout is not the journal's stream: no prefix there, but no time stamp either.
    assert.match(r.stdout, /^\[INF\] wg-reinstate·purge: wg0: 0 peers checked/m);
    assert.strictEqual(r.stderr, "");
    const bad = await underJournald("nosuch0");
    assert.strictEqual(bad.code, 1);
    assert.match(bad.stderr, /^<3>\[ERR\] /m);
    assert.doesNotMatch(bad.stderr, /^\d{4}-/m);
  });
});
