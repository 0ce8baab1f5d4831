/**
 * The attacks of a local unprivileged user (`nobody`) on the paths root
 * writes, each reproduced for real against wireguard-go, and each now
 * refused with one line, exit 2, and no change: to the interface, to the
 * attacker's directory, or to the file the attacker aimed at.
 *
 * The swap of a key directory between its creation and `wg set` cannot
 * start here any more (its parent must be root's alone); the second guard,
 * the re-check before each `wg` call, is triggered deterministically in
 * tests/unit/cycle_test.ts.
 */
import assert from "node:assert/strict";
import { runCli } from "../harness/cli.ts";
import { WgLab } from "../harness/lab.ts";
import { sh } from "../harness/sh.ts";
import { configOf } from "../harness/scenario.ts";

const NOBODY = "65534";

/** Runs a shell command as `nobody`. */
function asNobody(script: string) {
  return sh([
    "setpriv",
    `--reuid=${NOBODY}`,
    `--regid=${NOBODY}`,
    "--clear-groups",
    "sh",
    "-c",
    script,
  ]);
}

/** A lab with one stale PSK client, a root-only victim file, and a directory nobody owns. */
async function setUp() {
  const lab = await WgLab.start();
  const base = await Deno.makeTempDir({ prefix: "wr-attack-" });
  await Deno.chmod(base, 0o711); // nobody may enter, not write
  const victimDir = await Deno.makeTempDir({ prefix: "wr-victim-" }); // root's, 0700
  const victim = `${victimDir}/X`;
  await Deno.writeTextFile(victim, "root's file\n");
  const attacker = `${base}/attacker`;
  await Deno.mkdir(attacker, { mode: 0o755 });
  await Deno.chown(attacker, Number(NOBODY), Number(NOBODY)); // the attacker's own directory
  const client = await lab.addClient({ psk: true });
  assert.ok(await lab.ping(client));
  const before = await lab.dump();
  const close = async () => {
    await lab.close();
    await Deno.remove(base, { recursive: true });
    await Deno.remove(victimDir, { recursive: true });
  };
  return { lab, base, attacker, victim, victimDir, before, close };
}

/** Runs the CLI as root with the given flags; the run directory is a private one. */
async function run(s: Awaited<ReturnType<typeof setUp>>, ...flags: string[]) {
  const own = `${s.base}/own`;
  return await runCli([
    "run",
    "-i",
    s.lab.iface,
    "--status-file",
    `${own}/status.json`,
    "--lock-dir",
    own,
    "--key-dir",
    own,
    ...flags,
  ], { clockShift: 300 });
}

async function assertUnchanged(s: Awaited<ReturnType<typeof setUp>>) {
  const after = await s.lab.dump();
  assert.deepStrictEqual(after.peers.map((p) => [configOf(p), p.endpoint !== null]), [
    ...s.before.peers.map((p) => [configOf(p), true]),
  ]);
  assert.strictEqual(await Deno.readTextFile(s.victim), "root's file\n");
  assert.deepStrictEqual([...Deno.readDirSync(s.victimDir)].map((e) => e.name), ["X"]);
}

Deno.test("a key directory in a directory another user owns is refused, and orphan clean-up opens nothing there", async () => {
  const s = await setUp();
  try {
    // The attacker prepares a fake orphan whose owner file points at root's file.
    await asNobody(
      `mkdir '${s.attacker}/keys-evil' && ln -s '${s.victim}' '${s.attacker}/keys-evil/owner'`,
    );
    const r = await run(s, "--key-dir", s.attacker);
    assert.strictEqual(r.code, 2, r.log);
    assert.match(
      r.stderr,
      new RegExp(
        `\\[ERR\\] wg-reinstate·main: key-dir: ${s.attacker} is owned by uid ${NOBODY}, not by this process's uid 0; refusing to write there$`,
        "m",
      ),
    );
    await assertUnchanged(s);
    assert.deepStrictEqual([...Deno.readDirSync(s.attacker)].map((e) => e.name), ["keys-evil"]);
  } finally {
    await s.close();
  }
});

Deno.test("a lock directory another user owns is refused even with --dry-run: a planted link makes nothing", async () => {
  const s = await setUp();
  try {
    await asNobody(`ln -s '${s.victimDir}/created-by-root' '${s.attacker}/${s.lab.iface}.lock'`);
    for (const dry of [["--dry-run"], []]) {
      const r = await run(s, "--lock-dir", s.attacker, ...dry);
      assert.strictEqual(r.code, 2, r.log);
      assert.match(
        r.stderr,
        /\[ERR\] wg-reinstate·main: lock-dir: .* is owned by uid 65534, not by this process's uid 0; refusing to write there$/m,
      );
    }
    await assertUnchanged(s);
  } finally {
    await s.close();
  }
});

Deno.test("status and metrics files in a directory another user owns are refused before any change", async () => {
  const s = await setUp();
  try {
    await asNobody(
      `ln -s '${s.victim}' '${s.attacker}/status.json' && ln -s '${s.victim}' '${s.attacker}/m.prom'`,
    );
    for (
      const flag of [["--status-file", `${s.attacker}/status.json`], [
        "--metrics-file",
        `${s.attacker}/m.prom`,
      ]]
    ) {
      const r = await run(s, ...flag);
      assert.strictEqual(r.code, 2, r.log);
      assert.match(
        r.stderr,
        /\[ERR\] wg-reinstate·main: (status|metrics)-file: .* is owned by uid 65534, not by this process's uid 0; refusing to write there$/m,
      );
    }
    await assertUnchanged(s);
  } finally {
    await s.close();
  }
});

Deno.test("a purge leaves no lock file behind in its own lock directory", async () => {
  const s = await setUp();
  try {
    const r = await run(s);
    assert.strictEqual(r.code, 0, r.log);
    const left = [...Deno.readDirSync(`${s.base}/own`)].map((e) => e.name).sort();
    assert.deepStrictEqual(left, [".status.json.lock", "status.json"]);
    assert.strictEqual((await s.lab.dump()).peers[0].endpoint, null, "purged");
  } finally {
    await s.close();
  }
});
