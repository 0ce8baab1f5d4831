/**
 * purgePeers against the FAKE in-memory `wg`: one `wg set` per chunk, the
 * E2BIG split, the stop at the first failing chunk, and preshared keys only
 * ever in files.
 */
import assert from "node:assert/strict";
import type { WgError } from "../../src/common/errors.ts";
import { purgePeers } from "../../src/purge/apply.ts";
import { SetPace } from "../../src/purge/pace.ts";
import { FakeWg } from "../support/fake_wg.ts";
import { withKeyDir } from "../support/key_dir.ts";
import { configsByKey, manyPeers } from "../support/peers.ts";

const calls = (argvBudget: number) => ({ argvBudget, pace: new SetPace(10_000) });

Deno.test("purgePeers removes and re-adds every peer, one wg set per chunk", async () => {
  const peers = manyPeers(30);
  const wg = new FakeWg().addInterface("wg0", peers);
  const outcome = await withKeyDir((keys) => purgePeers(wg, "wg0", peers, keys, calls(4096)));
  assert.strictEqual(outcome.failure, null);
  assert.deepStrictEqual(outcome.attempted.map((p) => p.publicKey), peers.map((p) => p.publicKey));
  assert.ok(wg.sets.length >= 2 && wg.sets.length < 30, `${wg.sets.length} calls`);
  for (const call of wg.sets) {
    const bytes = call.args.reduce((n, a) => n + a.length + 9, 0);
    assert.ok(bytes <= 4096, `${bytes} bytes of argv`);
  }
  const after = wg.peers("wg0");
  assert.deepStrictEqual(configsByKey(after), configsByKey(peers));
  assert.deepStrictEqual(
    after.map((p) => p.publicKey),
    peers.map((p) => p.publicKey),
    "order kept",
  );
  assert.ok(after.every((p) => p.endpoint === null && p.latestHandshake === 0));
});

Deno.test("purgePeers puts preshared keys in files, never in argv", async () => {
  const peers = manyPeers(6);
  const wg = new FakeWg().addInterface("wg0", peers);
  await withKeyDir((keys) => purgePeers(wg, "wg0", peers, keys, calls(512 * 1024)));
  const argv = wg.sets.flatMap((c) => c.args).join(" ");
  for (const p of peers) {
    if (p.presharedKey !== null) assert.ok(!argv.includes(p.presharedKey), "PSK in argv");
  }
  assert.match(argv, /preshared-key \S+\/psk-0/);
  assert.deepStrictEqual(
    wg.peers("wg0").map((p) => p.presharedKey),
    peers.map((p) => p.presharedKey),
  );
});

Deno.test("purgePeers halves a chunk that wg refuses with E2BIG until it fits", async () => {
  const peers = manyPeers(16);
  const wg = new FakeWg({ argvLimit: 1500 }).addInterface("wg0", peers);
  const outcome = await withKeyDir((keys) => purgePeers(wg, "wg0", peers, keys, calls(512 * 1024)));
  assert.strictEqual(outcome.failure, null);
  assert.strictEqual(outcome.attempted.length, 16);
  // The first call carried all 16; the calls that went through carried fewer.
  assert.strictEqual(wg.sets[0].args.filter((a) => a === "remove").length, 16);
  assert.ok(wg.sets.length > 2);
  assert.deepStrictEqual(configsByKey(wg.peers("wg0")), configsByKey(peers));
});

Deno.test("purgePeers reports E2BIG for a single peer too large to split", async () => {
  const [peer] = manyPeers(1);
  const wg = new FakeWg({ argvLimit: 50 }).addInterface("wg0", [peer]);
  const outcome = await withKeyDir((keys) =>
    purgePeers(wg, "wg0", [peer], keys, calls(512 * 1024))
  );
  assert.strictEqual((outcome.failure as WgError | null)?.kind, "argv-too-long");
  assert.deepStrictEqual(outcome.attempted.map((p) => p.publicKey), [peer.publicKey]);
  assert.deepStrictEqual(wg.peers("wg0"), [peer], "nothing changed");
});

Deno.test("purgePeers stops at the first failing chunk and returns what it attempted", async () => {
  const peers = manyPeers(30);
  const wg = new FakeWg().addInterface("wg0", peers).script("set", null, { kind: "fail-after" });
  const outcome = await withKeyDir((keys) => purgePeers(wg, "wg0", peers, keys, calls(4096)));
  assert.strictEqual((outcome.failure as WgError | null)?.kind, "failed");
  assert.strictEqual(wg.sets.length, 2, "no chunk after the failing one");
  const inFirstTwo = wg.sets.flatMap((c) => c.args).filter((a) => a === "remove").length;
  assert.strictEqual(outcome.attempted.length, inFirstTwo);
  // The FAKE left the failing chunk's last peer removed: the caller repairs it.
  assert.strictEqual(wg.peers("wg0").length, 29);
  const untouched = peers.slice(inFirstTwo);
  const after = new Map(wg.peers("wg0").map((p) => [p.publicKey, p]));
  assert.ok(untouched.every((p) => after.get(p.publicKey)?.endpoint === p.endpoint));
});
