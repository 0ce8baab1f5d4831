/**
 * Generators of peers for unit and property tests.
 *
 * @module
 */
import fc from "fast-check";
import { configOf } from "../harness/scenario.ts";
import type { Policy } from "../../src/purge/plan.ts";
import { REJECT_AFTER_TIME } from "../../src/wg/constants.ts";
import type { WgPeer } from "../../src/wg/dump.ts";

/** A random valid WireGuard key. */
export const keyArb: fc.Arbitrary<string> = fc.uint8Array({ minLength: 32, maxLength: 32 })
  .map((b) => btoa(String.fromCharCode(...b)));

/** A peer with fields in their valid ranges. */
export const peerArb: fc.Arbitrary<WgPeer> = fc.record({
  publicKey: keyArb,
  presharedKey: fc.option(keyArb),
  endpoint: fc.option(fc.constantFrom("192.0.2.7:51820", "[2001:db8::7]:4500")),
  allowedIps: fc.array(fc.constantFrom("10.0.0.2/32", "fd00::2/128", "10.1.0.0/24"), {
    maxLength: 3,
  }),
  latestHandshake: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2_000_000_000 })),
  rxBytes: fc.nat(),
  txBytes: fc.nat(),
  persistentKeepalive: fc.option(fc.integer({ min: 1, max: 65535 })),
});

/** Builds a peer for example-based tests. */
export function peer(overrides: Partial<WgPeer> & { publicKey: string }): WgPeer {
  return {
    presharedKey: null,
    endpoint: "192.0.2.1:51820",
    allowedIps: ["10.0.0.2/32"],
    latestHandshake: 1000,
    rxBytes: 0,
    txBytes: 0,
    persistentKeepalive: null,
    ...overrides,
  };
}

/** A fixed, valid key for example-based tests, distinct per letter. */
export function key(letter: string): string {
  return letter.repeat(43).slice(0, 42) + "A=";
}

/** The `i`-th of many distinct, valid keys. */
export function keyN(i: number, salt = 0): string {
  const bytes = new Uint8Array(32);
  new DataView(bytes.buffer).setUint32(0, i);
  new DataView(bytes.buffer).setUint32(4, salt);
  return btoa(String.fromCharCode(...bytes));
}

/**
 * `count` peers with endpoints and handshakes at `handshake`: every other
 * one with a preshared key, every third with keepalive, mixed v4/v6
 * allowed-ips in a non-sorted order.
 */
export function manyPeers(count: number, handshake = 1000): WgPeer[] {
  return Array.from({ length: count }, (_, i) =>
    peer({
      publicKey: keyN(i),
      presharedKey: i % 2 === 0 ? keyN(i, 1) : null,
      persistentKeepalive: i % 3 === 0 ? 25 : null,
      allowedIps: [`10.0.${i >> 8}.${i & 255}/32`, `fd00::${i.toString(16)}/128`, "10.9.0.0/16"],
      endpoint: `192.0.2.${i % 250}:${40000 + i}`,
      latestHandshake: handshake,
    }));
}

/** Configurations keyed by public key: what a purge must keep, compared in any order. */
export function configsByKey(
  peers: readonly WgPeer[],
): Record<string, ReturnType<typeof configOf>> {
  return Object.fromEntries(peers.map((p) => [p.publicKey, configOf(p)]));
}

/** A planner policy: the default threshold, nothing protected, unless overridden. */
export function policy(over: Partial<Policy> = {}): Policy {
  return {
    staleAfter: REJECT_AFTER_TIME,
    exclude: new Set(),
    configuredEndpoints: new Set(),
    configuredWithoutEndpoint: new Set(),
    saveConfig: null,
    warnings: [],
    ...over,
  };
}
