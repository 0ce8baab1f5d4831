/**
 * The test handshake initiator against real wireguard-go: full handshakes
 * record endpoint and handshake, half handshakes only the endpoint, and a
 * wrong preshared key fails as it must.
 */
import assert from "node:assert/strict";
import { WgLab } from "../harness/lab.ts";
import { peerByKey } from "../harness/scenario.ts";
import { generatePsk } from "../harness/initiator.ts";

const FULL = 100;
const HALF = 20;

Deno.test("initiator completes real handshakes, half handshakes and repeats them", async () => {
  const lab = await WgLab.start();
  try {
    const full = await lab.handshakeMany(
      Array.from({ length: FULL }, (_, i) => ({ psk: i % 2 === 0 })),
    );
    const half = await lab.handshakeMany(Array.from({ length: HALF }, () => ({ confirm: false })));
    assert.ok(full.every((p) => p.result.ok) && half.every((p) => p.result.ok));
    const ports = new Set([...full, ...half].map((p) => p.result.sourcePort));
    assert.strictEqual(ports.size, FULL + HALF, "each client from its own UDP source port");

    const dump = (await lab.dump()).peers;
    assert.strictEqual(dump.length, FULL + HALF);
    for (const p of full) {
      const peer = peerByKey(dump, p.keys.publicKey);
      assert.notStrictEqual(peer.endpoint, null);
      assert.ok(peer.latestHandshake > 0);
      assert.ok(peer.rxBytes > 0, "the keepalive was received");
      assert.strictEqual(peer.endpoint!.split(":")[1], String(p.result.sourcePort));
    }
    for (const p of half) {
      const peer = peerByKey(dump, p.keys.publicKey);
      assert.notStrictEqual(
        peer.endpoint,
        null,
        "the server learned the endpoint from the initiation",
      );
      assert.strictEqual(peer.latestHandshake, 0, "but recorded no handshake");
    }

    // The same peers can handshake again (the bench re-stales them this way).
    const again = await lab.runHandshakes(full.slice(0, 10));
    assert.ok(again.every((r) => r.ok));
    const redump = (await lab.dump()).peers;
    for (const [i, p] of full.slice(0, 10).entries()) {
      assert.strictEqual(
        peerByKey(redump, p.keys.publicKey).endpoint!.split(":")[1],
        String(again[i].sourcePort),
      );
    }
  } finally {
    await lab.close();
  }
});

Deno.test("initiator fails a handshake whose preshared key the server does not share", async () => {
  const lab = await WgLab.start();
  try {
    const [peer] = await lab.addLoadPeers([{ psk: true }]);
    const [result] = await lab.runHandshakes([{ ...peer, psk: generatePsk() }]);
    assert.strictEqual(result.ok, false);
    assert.match(result.error ?? "", /invalid tag|no response/);
    const dump = (await lab.dump()).peers;
    assert.strictEqual(peerByKey(dump, peer.keys.publicKey).latestHandshake, 0);
  } finally {
    await lab.close();
  }
});
