/**
 * A wireguard-go lab whose peers all completed real handshakes, for the
 * fault tests, and the check they all end with: which peers were lost or
 * changed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type LoadPeer, WgLab } from "../harness/lab.ts";
import { configOf } from "../harness/scenario.ts";
import type { WgPeer } from "../../src/wg/dump.ts";

/** `count` peers (every other with a preshared key, every third with keepalive 25), handshaken. */
export async function staleLab(count: number): Promise<{ lab: WgLab; peers: LoadPeer[] }> {
  const lab = await WgLab.start();
  try {
    const peers = await lab.addLoadPeers(
      Array.from(
        { length: count },
        (_, i) => ({ psk: i % 2 === 0, keepalive: i % 3 === 0 ? 25 : undefined }),
      ),
    );
    const results = await lab.runHandshakes(peers);
    assert.ok(results.every((r) => r.ok));
    return { lab, peers };
  } catch (error) {
    await lab.close();
    throw error;
  }
}

/** Peers missing, or with a configuration other than before. */
export function lost(before: readonly WgPeer[], after: readonly WgPeer[]): string[] {
  const now = new Map(after.map((p) => [p.publicKey, JSON.stringify(configOf(p))]));
  return before.filter((p) => now.get(p.publicKey) !== JSON.stringify(configOf(p))).map((p) =>
    p.publicKey
  );
}
