/**
 * `main` in-process, with the FAKE in-memory `wg` where a command reads
 * WireGuard: the dispatch table, each subcommand's help, and exit codes taken
 * from the error itself.
 */
import assert from "node:assert/strict";
import { WgError } from "../../src/common/errors.ts";
import { lockInterfaces } from "../../src/purge/lock.ts";
import { loadSpecs } from "../../src/cli/args.ts";
import { COMMANDS, main, type MainIo } from "../../src/main.ts";
import { FakeWg } from "../support/fake_wg.ts";
import { key, manyPeers, peer } from "../support/peers.ts";

const NOW = 50_000;

/** Runs `main` with a fake `wg` in a private run directory; returns exit code and stdout. */
async function runMain(argv: string[], wg: FakeWg | (() => never) = new FakeWg()) {
  const dir = await Deno.makeTempDir({ prefix: "wr-unit-" });
  let out = "";
  const io: MainIo = {
    wgFor: () => (typeof wg === "function" ? wg() : wg),
    now: () => NOW,
    print: (text) => (out += text),
  };
  try {
    const dirs = argv.length > 1 && argv[0] in COMMANDS && !argv.includes("--help")
      ? [
        "--key-dir",
        dir,
        "--wg-quick-config",
        `${dir}/none-%i.conf`,
        "--status-file",
        `${dir}/s.json`,
      ]
      : [];
    if (dirs.length > 0 && !argv.includes("--lock-dir")) dirs.push("--lock-dir", dir);
    // A missing configured wg-quick file is an error; an empty one protects nothing.
    await Deno.writeTextFile(`${dir}/none-wg0.conf`, "");
    const code = await main([...argv, ...dirs], io);
    return { code, out, dir };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("main dispatches every subcommand in its table to that command's help", async () => {
  const specs = await loadSpecs(COMMANDS);
  for (const [name, spec] of Object.entries(specs)) {
    const { code, out } = await runMain([name, "--help"]);
    assert.strictEqual(code, 0);
    assert.ok(out.startsWith(`Usage: wg-reinstate ${name} [options]\n`), out);
    assert.ok(out.includes(spec.description), name);
  }
  const { out } = await runMain(["--help"]);
  for (const [name, spec] of Object.entries(specs)) {
    assert.match(out, new RegExp(`wg-reinstate ${name} +\\[options\\] +${spec.summary}`));
  }
});

Deno.test("main runs status and run through the table against a fake wg", async () => {
  const wg = new FakeWg().addInterface("wg0", [
    peer({ publicKey: key("a"), latestHandshake: NOW - 600 }),
    peer({ publicKey: key("b"), latestHandshake: NOW - 10 }),
  ]);
  const status = await runMain(["status", "-i", "wg0"], wg);
  assert.strictEqual(status.code, 0);
  assert.match(status.out, /^INTERFACE +PEER +ENDPOINT +HANDSHAKE +DECISION +REASON$/m);
  assert.match(status.out, /^wg0 +aaaaaaaa… +ipv4 +10m00s +purge +stale$/m);
  assert.ok(!status.out.includes("192.0.2.1"), "no endpoint address");
  assert.deepStrictEqual(wg.sets, []);

  const run = await runMain(["run", "-i", "wg0", "--json"], wg);
  assert.strictEqual(run.code, 0);
  const report = JSON.parse(run.out);
  assert.deepStrictEqual(
    report.interfaces[0].purged.map((p: { publicKey: string }) => p.publicKey),
    [
      key("a"),
    ],
  );
  assert.strictEqual(wg.peers("wg0")[1].endpoint, null);
});

Deno.test("main exits with the code the error carries", async () => {
  assert.strictEqual((await runMain(["run", "--bogus"])).code, 2);
  assert.strictEqual((await runMain(["run", "--stale-after", "60"])).code, 2);
  const failing = new FakeWg().addInterface("wg0", []).script("show", { kind: "fail" });
  assert.strictEqual((await runMain(["run", "-i", "wg0"], failing)).code, 1);
  const internal = await runMain(["status"], () => {
    throw new TypeError("boom");
  });
  assert.strictEqual(internal.code, 1);
  assert.ok(new WgError("timeout", "x").exitCode === 1);
});

Deno.test("main exits 3 when another process holds an interface's lock", async () => {
  const lockDir = await Deno.makeTempDir({ prefix: "wr-unit-" });
  const held = await lockInterfaces(lockDir, ["wg0"]);
  try {
    const wg = new FakeWg().addInterface("wg0", manyPeers(2, NOW - 600));
    const { code } = await runMain(["run", "-i", "wg0", "--lock-dir", lockDir], wg);
    assert.strictEqual(code, 3);
    assert.deepStrictEqual(wg.sets, []);
  } finally {
    held.release();
    await Deno.remove(lockDir, { recursive: true });
  }
});
