/**
 * How the real `wg` runner replaces peers: argv chunks within the budget,
 * the E2BIG split, the stop at the first failing process, preshared keys
 * only ever in files of a key directory that is checked before each process.
 * The replaceByArgv cases record the argv they are given; the WgCommand ones
 * run a stand-in `wg` script.
 */
import assert from "node:assert/strict";
import { KeyFileError, WgError } from "../../src/common/errors.ts";
import { replaceByArgv } from "../../src/wg/replace.ts";
import { WgCommand } from "../../src/wg/command.ts";
import { withKeyDir } from "../support/key_dir.ts";
import { manyPeers } from "../support/peers.ts";
import { withWrapper } from "../support/wrappers.ts";

const upTo = (n: number) => [...Array(n).keys()];
const done = (n: number) => ({ handed: upTo(n), unsettled: [], tooLarge: [], failure: null });

/** Bytes of argv as the kernel counts them: text, NUL and a pointer per argument. */
const argvBytes = (args: readonly string[]) =>
  args.reduce((n, a) => n + new TextEncoder().encode(a).length + 9, 0);

/** A process runner that records argv, refusing with E2BIG above `limit` bytes. */
function recorder(limit = Infinity, fail?: (call: number) => boolean) {
  const calls: string[][] = [];
  const run = (args: string[]) => {
    if (argvBytes(args) > limit) {
      return Promise.reject(new WgError("argv-too-long", "wg argument list too long (test)"));
    }
    calls.push(args);
    if (fail?.(calls.length)) return Promise.reject(new WgError("failed", "wg set failed (test)"));
    return Promise.resolve();
  };
  const removes = (args: string[]) => args.filter((a) => a === "remove").length;
  return { calls, run, removes };
}

Deno.test("replaceByArgv removes and re-adds every peer, one wg set per chunk of argv", async () => {
  const peers = manyPeers(30);
  const r = recorder();
  const result = await withKeyDir((keys) => replaceByArgv(peers, keys, 4096, r.run));
  assert.deepStrictEqual(result, done(30));
  assert.ok(r.calls.length >= 2 && r.calls.length < 30, `${r.calls.length} calls`);
  for (const args of r.calls) assert.ok(argvBytes(args) <= 4096, `${argvBytes(args)} bytes`);
  // In order, each peer's removal and re-add side by side.
  const keys = r.calls.flat().filter((_, i, all) => all[i - 1] === "peer");
  assert.deepStrictEqual(keys, peers.flatMap((p) => [p.publicKey, p.publicKey]));
});

Deno.test("replaceByArgv puts preshared keys in files, never in argv", async () => {
  const peers = manyPeers(6);
  const r = recorder();
  const files = await withKeyDir(async (keys) => {
    await replaceByArgv(peers, keys, 512 * 1024, r.run);
    const argv = r.calls.flat();
    const paths = argv.filter((_, i) => argv[i - 1] === "preshared-key");
    return await Promise.all(paths.map((path) => Deno.readTextFile(path)));
  });
  const argv = r.calls.flat().join(" ");
  for (const p of peers) {
    if (p.presharedKey !== null) assert.ok(!argv.includes(p.presharedKey), "PSK in argv");
  }
  assert.match(argv, /preshared-key \S+\/psk-0/);
  assert.deepStrictEqual(
    files.map((f) => f.trim()),
    peers.filter((p) => p.presharedKey !== null).map((p) => p.presharedKey),
  );
});

Deno.test("replaceByArgv halves a chunk that the kernel refuses with E2BIG until it fits", async () => {
  const peers = manyPeers(16);
  const r = recorder(1500);
  const attempts: number[] = [];
  const run = (args: string[]) => (attempts.push(r.removes(args)), r.run(args));
  const result = await withKeyDir((keys) => replaceByArgv(peers, keys, 512 * 1024, run));
  assert.deepStrictEqual(result, done(16));
  assert.strictEqual(attempts[0], 16, "the first attempt carried all 16");
  assert.ok(r.calls.length > 2);
  assert.strictEqual(r.calls.reduce((n, args) => n + r.removes(args), 0), 16, "each peer once");
});

Deno.test("replaceByArgv skips a single peer too large for any argv and replaces the rest", async () => {
  const peers = manyPeers(3);
  // The second peer's allowed IPs alone are over the limit.
  const huge = { ...peers[1], allowedIps: upTo(200).map((i) => `10.1.${i}.0/24`) };
  const r = recorder(2000);
  const result = await withKeyDir((keys) =>
    replaceByArgv([peers[0], huge, peers[2]], keys, 512 * 1024, r.run)
  );
  assert.deepStrictEqual(result, { handed: [0, 2], unsettled: [], tooLarge: [1], failure: null });
  assert.strictEqual(r.calls.reduce((n, args) => n + r.removes(args), 0), 2);
});

Deno.test("replaceByArgv stops at the first failing process and says how far it got", async () => {
  const r = recorder(Infinity, (call) => call === 2);
  const result = await withKeyDir((keys) => replaceByArgv(manyPeers(30), keys, 2048, r.run));
  assert.strictEqual((result.failure as WgError).kind, "failed");
  assert.strictEqual(r.calls.length, 2, "no process after the failing one");
  const first = r.removes(r.calls[0]);
  assert.deepStrictEqual(result.handed, upTo(first + r.removes(r.calls[1])));
  assert.deepStrictEqual(result.unsettled, result.handed.slice(first), "the failed one's peers");
});

Deno.test("replaceByArgv runs only peers without a key once the key directory was replaced", async () => {
  const peers = manyPeers(30);
  const r = recorder();
  const result = await withKeyDir(async (keys) => {
    // After the first process, the directory is swapped for another one: what
    // an attacker with write access to the parent would do (the safe-path
    // rule forbids such a parent; this is the second guard).
    const run = async (args: string[]) => {
      await r.run(args);
      if (r.calls.length !== 1) return;
      await Deno.rename(keys.path, `${keys.path}.moved`);
      await Deno.mkdir(keys.path, { mode: 0o700 });
    };
    try {
      return await replaceByArgv(peers, keys, 2048, run);
    } finally {
      await Deno.remove(keys.path);
      await Deno.rename(`${keys.path}.moved`, keys.path);
    }
  });
  assert.strictEqual(r.calls.length, 2, "one chunk, then the next chunk's peers without a key");
  assert.ok(r.calls[1].every((a) => a !== "preshared-key"));
  const first = r.removes(r.calls[0]);
  const keyless = upTo(peers.length).slice(first).filter((i) => peers[i].presharedKey === null);
  const nextChunk = keyless.slice(0, r.removes(r.calls[1]));
  assert.deepStrictEqual(result.handed, [...upTo(first), ...nextChunk]);
  assert.ok(result.failure instanceof KeyFileError);
  assert.match(result.failure.message, /is no longer the one created; not running wg with it/);
});

Deno.test("replaceByArgv runs nothing when a preshared key cannot be written", async () => {
  const r = recorder();
  const result = await withKeyDir(async (keys) => {
    await Deno.remove(keys.path, { recursive: true });
    return await replaceByArgv(manyPeers(4), keys, 512 * 1024, r.run);
  });
  assert.deepStrictEqual(result.handed, []);
  assert.ok(result.failure instanceof KeyFileError);
  assert.match(result.failure.message, /cannot write a preshared-key file in/);
  assert.deepStrictEqual(r.calls, []);
});

const STAND_IN = `#!/bin/sh
# FAKE wg: records its argv, and each preshared-key file's content as it reads it.
printf '%s\\n' "$*" >> @DIR@/argv
while [ $# -gt 0 ]; do
  if [ "$1" = preshared-key ]; then cat "$2" >> @DIR@/psks; fi
  shift
done
[ -e @DIR@/fail ] && { echo "Unable to modify interface: Operation not permitted" >&2; exit 1; }
exit 0
`;

Deno.test("WgCommand replacePeers runs wg set with key files the stand-in can read, never a key in argv", async () => {
  const peers = manyPeers(6);
  await withWrapper(STAND_IN, async (path, dir) => {
    const wg = new WgCommand({ wgPath: path, timeoutMs: 5000 });
    const result = await withKeyDir((keys) => wg.replacePeers("wg0", peers, { keys }));
    assert.deepStrictEqual(result, done(6));
    const argv = await Deno.readTextFile(`${dir}/argv`);
    assert.match(argv, /^set wg0 peer \S+ remove peer /);
    for (const p of peers) {
      if (p.presharedKey !== null) assert.ok(!argv.includes(p.presharedKey), "PSK in argv");
    }
    assert.deepStrictEqual(
      (await Deno.readTextFile(`${dir}/psks`)).trim().split("\n"),
      peers.filter((p) => p.presharedKey !== null).map((p) => p.presharedKey),
    );
  });
});

Deno.test("WgCommand replacePeers returns a failing wg set as its result", async () => {
  const peers = manyPeers(3).map((p) => ({ ...p, presharedKey: null }));
  await withWrapper(STAND_IN, async (path, dir) => {
    await Deno.writeTextFile(`${dir}/fail`, "");
    const wg = new WgCommand({ wgPath: path, timeoutMs: 5000 });
    const result = await wg.replacePeers("wg0", peers);
    assert.deepStrictEqual(result.handed, upTo(3));
    assert.strictEqual((result.failure as WgError).kind, "permission");
    assert.match(result.failure!.message, /^wg set wg0: permission denied/);
  });
});
