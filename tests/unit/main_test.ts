/**
 * `main` in-process, with the FAKE in-memory `wg` where a command reads
 * WireGuard: the dispatch table, each subcommand's help, and exit codes taken
 * from the error itself.
 */
import assert from "node:assert/strict";
import { BAD_FLAGS } from "../support/bad_flags.ts";
import { lockInterfaces } from "../../src/purge/lock.ts";
import { loadSpecs } from "../../src/cli/args.ts";
import type { OptionName } from "../../src/cli/options.ts";
import { COMMANDS, main, type MainIo } from "../../src/main.ts";
import { FakeWg } from "../support/fake_wg.ts";
import { key, manyPeers, peer } from "../support/peers.ts";

const NOW = 50_000;

/**
 * Runs `main` with a fake `wg` in a private run directory: the command gets
 * each of its own path options there unless argv names it. Returns the exit
 * code, stdout and the error line printed before logging started.
 */
async function runMain(argv: string[], wg: FakeWg | (() => never) = new FakeWg()) {
  const dir = await Deno.makeTempDir({ prefix: "wr-unit-" });
  let out = "";
  let err = "";
  const io: MainIo = {
    wgFor: () => (typeof wg === "function" ? wg() : wg),
    now: () => NOW,
    print: (text) => (out += text),
    printError: (text) => (err += text),
  };
  try {
    const spec = Object.hasOwn(COMMANDS, argv[0] ?? "") ? await COMMANDS[argv[0]]() : null;
    // A missing configured wg-quick file is an error; an empty one protects nothing.
    const paths: [OptionName, string][] = [
      ["key-dir", dir],
      ["lock-dir", dir],
      ["status-file", `${dir}/s.json`],
      ["wg-quick-config", `${dir}/none-%i.conf`],
    ];
    const own = spec === null || argv.includes("--help")
      ? []
      : paths.filter(([name]) => spec.options.includes(name) && !argv.includes(`--${name}`))
        .flatMap(([name, value]) => [`--${name}`, value]);
    await Deno.writeTextFile(`${dir}/none-wg0.conf`, "");
    const code = await main(spec === null ? argv : [argv[0], ...own, ...argv.slice(1)], io);
    return { code, out, err, dir };
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
  const status = await runMain(["status", "-i", "wg0", "--peer-times"], wg);
  assert.strictEqual(status.code, 0);
  assert.match(status.out, /^INTERFACE +PEER +ENDPOINT +HANDSHAKE +DECISION +REASON$/m);
  assert.match(status.out, /^wg0 +aaaaaaaa… +ipv4 +10m00s +purge +stale$/m);
  assert.ok(!status.out.includes("192.0.2.1"), "no endpoint address");
  assert.deepStrictEqual(wg.sets, []);

  const run = await runMain(["run", "-i", "wg0", "--json"], wg);
  assert.strictEqual(run.code, 0);
  const report = JSON.parse(run.out);
  assert.deepStrictEqual(report.interfaces[0].purged, [{ publicKey: key("a"), reason: "stale" }]);
  assert.strictEqual(wg.peers("wg0")[1].endpoint, null);
});

Deno.test("main prints per-peer times only with --peer-times", async (t) => {
  const cases: [string, string[], (out: string) => unknown][] = [
    ["run --json", ["run", "--json"], (out) => JSON.parse(out).interfaces[0].purged[0]],
    ["status --json", ["status", "--json"], (out) => JSON.parse(out).peers[0]],
  ];
  for (const [name, args, peerOf] of cases) {
    await t.step(name, async () => {
      for (const peerTimes of [false, true]) {
        const wg = new FakeWg().addInterface("wg0", [
          peer({ publicKey: key("a"), latestHandshake: NOW - 600 }),
        ]);
        const r = await runMain([...args, "-i", "wg0", ...(peerTimes ? ["--peer-times"] : [])], wg);
        assert.strictEqual(r.code, 0, r.err);
        const printed = JSON.stringify(peerOf(r.out));
        assert.strictEqual(
          /"(idleSeconds|latestHandshake|handshakeAgeSeconds)"/.test(printed),
          peerTimes,
          printed,
        );
        assert.strictEqual(printed.includes("600"), peerTimes, printed);
      }
    });
  }
});

Deno.test("main exits with the code the error carries", async (t) => {
  const cases: [string, string[], Parameters<typeof runMain>[1], number][] = [
    [
      "a failing wg (FAKE) exits 1",
      ["run", "-i", "wg0"],
      new FakeWg().addInterface("wg0", []).script("show", { kind: "fail" }),
      1,
    ],
    ["an internal error exits 1", ["status"], () => {
      throw new TypeError("boom");
    }, 1],
    ["a bad setting exits 2", ["status", "--wg-timeout", "0"], new FakeWg(), 2],
  ];
  for (const [name, argv, wg, code] of cases) {
    await t.step(name, async () => assert.strictEqual((await runMain(argv, wg)).code, code));
  }
});

Deno.test("main prints one line for a bad flag, exits 2 and runs nothing", async (t) => {
  for (const [argv, message] of BAD_FLAGS) {
    await t.step(argv.join(" ").replace("\n", "\\n"), async () => {
      const wg = new FakeWg().addInterface("wg0", manyPeers(2, NOW - 600));
      const r = await runMain(argv, wg);
      assert.strictEqual(r.code, 2);
      assert.strictEqual(r.err, `wg-reinstate: ${message}\n`);
      assert.strictEqual(r.out, "");
      assert.deepStrictEqual(wg.sets, []);
    });
  }
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

Deno.test("main's status and config warn of a wg-quick file with SaveConfig = true, whose Endpoint lines protect nothing", async () => {
  const file = await Deno.makeTempFile({ prefix: "wr-unit-", suffix: ".conf" });
  try {
    await Deno.writeTextFile(
      file,
      `[Interface]\nSaveConfig = true\n\n[Peer]\nPublicKey = ${key("a")}\n` +
        "Endpoint = 192.0.2.1:51820\nAllowedIPs = 10.0.0.2/32\n",
    );
    const wg = new FakeWg().addInterface("wg0", [
      peer({ publicKey: key("a"), latestHandshake: NOW - 600 }),
    ]);
    const status = await runMain(["status", "-i", "wg0", "--wg-quick-config", file], wg);
    assert.strictEqual(status.code, 0, status.err);
    assert.match(status.out, new RegExp(`^Warning: wg0: ${file} has SaveConfig = true: `, "m"));
    assert.match(status.out, /^wg0 +aaaaaaaa… +ipv4 +purge +stale$/m, "not protected");

    const config = await runMain(["config", "-i", "wg0", "--wg-quick-config", file]);
    assert.strictEqual(config.code, 0, config.err);
    const [iface] = JSON.parse(config.out).interfaces;
    assert.deepStrictEqual(iface.protected, []);
    assert.match(
      iface.warnings[0],
      /SaveConfig = true: wg-quick writes every peer's endpoint into it/,
    );
  } finally {
    await Deno.remove(file);
  }
});
