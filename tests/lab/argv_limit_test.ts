/**
 * A stale peer whose allowed IPs alone are longer than Linux lets one
 * argument be (MAX_ARG_STRLEN, 128 KiB), on real wireguard-go: no `wg set`
 * command line can hold it, so it is left as it is with one error line, and
 * every other stale peer is purged, in this cycle and every later one.
 */
import assert from "node:assert/strict";
import { runCli } from "../harness/cli.ts";
import { WgLab } from "../harness/lab.ts";
import { configOf } from "../harness/scenario.ts";
import { sh } from "../harness/sh.ts";

/** Allowed IPs whose comma-joined text is about 170 KB: over 128 KiB. */
const HUGE = Array.from({ length: 11_000 }, (_, i) => `10.90.${i >> 8}.${i & 255}/32`);

Deno.test("a peer too large for any wg set is kept with one error line, and the rest are purged", async () => {
  const lab = await WgLab.start();
  try {
    const peers = await lab.addLoadPeers(
      Array.from({ length: 12 }, (_, i) => ({ psk: i % 2 === 0 })),
    );
    assert.ok((await lab.runHandshakes(peers)).every((r) => r.ok));
    // wg-quick's format may split AllowedIPs over lines, so only a config
    // file, never argv, can give one peer this many.
    const huge = peers[5].keys.publicKey;
    const conf = `${lab.workDir}/huge.conf`;
    const lines = [];
    for (let i = 0; i < HUGE.length; i += 500) {
      lines.push(`AllowedIPs = ${HUGE.slice(i, i + 500).join(", ")}`);
    }
    await Deno.writeTextFile(conf, `[Peer]\nPublicKey = ${huge}\n${lines.join("\n")}\n`);
    await sh(lab.inServerNs(["wg", "addconf", lab.iface, conf]));
    const before = (await lab.dump()).peers;
    const hugeBefore = before.find((p) => p.publicKey === huge)!;
    assert.ok(hugeBefore.allowedIps.join(",").length > 128 * 1024);

    for (const cycle of [1, 2]) {
      const r = await runCli(["run", "-i", lab.iface], { clockShift: 600 });
      assert.strictEqual(r.code, 1, r.log);
      const errors = r.log.split("\n").filter((l) => /\[ERR\]/.test(l));
      assert.strictEqual(errors.length, 1, r.log);
      assert.match(
        errors[0],
        new RegExp(`peer ${huge.slice(0, 8).replace(/[+/]/g, "\\$&")}… .*128 KiB`),
      );
      const after = new Map((await lab.dump()).peers.map((p) => [p.publicKey, p]));
      assert.deepStrictEqual(configOf(after.get(huge)!), configOf(hugeBefore), "kept whole");
      assert.strictEqual(
        after.get(huge)!.endpoint,
        hugeBefore.endpoint,
        `cycle ${cycle}: as it was`,
      );
      for (const p of before.filter((p) => p.publicKey !== huge)) {
        assert.deepStrictEqual(configOf(after.get(p.publicKey)!), configOf(p));
        assert.strictEqual(after.get(p.publicKey)!.endpoint, null, "purged");
      }
      if (cycle === 1) assert.ok((await lab.runHandshakes(peers)).every((x) => x.ok));
    }
    console.log("| one stale peer over 128 KiB of allowed-ips (real) | 2 | 12 | 0 |");
  } finally {
    await lab.close();
  }
});
