/**
 * The mixed server every integration test starts from: one peer of each kind
 * the purge must tell apart, all with real handshakes.
 *
 * @module
 */
import type { WgPeer } from "../../src/wg/dump.ts";
import { generateKeyPair } from "./initiator.ts";
import type { LabClient, WgLab } from "./lab.ts";

/** The peers of the mixed server, by role. */
export interface MixedServer {
  /** Roaming client without PSK: purged once stale. */
  roaming: LabClient;
  /** Client with a PSK and two allowed-ips in a non-sorted order: purged once stale. */
  psk: LabClient;
  /** Client reached over IPv6, with a server-side persistent keepalive: purged once stale. */
  keepalive: LabClient;
  /** Site-to-site peer whose endpoint is in the wg-quick file: kept. */
  site: LabClient;
  /** Client whose key is excluded: kept. */
  excluded: LabClient;
  /** Peer configured on the server only, never connected: kept (no endpoint). */
  idleKey: string;
  /** Peer that sent an initiation but never confirmed it: kept (never handshaked). */
  halfKey: string;
  /** wg-quick file naming the site-to-site peer's endpoint. */
  wgQuickFile: string;
  /** The clients that a stale cycle purges. */
  stale: LabClient[];
}

/**
 * Builds the mixed server and completes a handshake from every client.
 * `active` clients are handshaked last, after `gapMs`, so a clock set just
 * past the others' stale point still sees them as active.
 */
export async function buildMixedServer(lab: WgLab): Promise<MixedServer> {
  const roaming = await lab.addClient();
  const psk = await lab.addClient({
    psk: true,
    extraAllowedIps: ["fd77::2/128", "10.77.100.0/24"],
  });
  const keepalive = await lab.addClient({ ipv6: true, keepalive: 25 });
  const site = await lab.addClient({ serverDials: true });
  const excluded = await lab.addClient({ psk: true });
  const idleKey = generateKeyPair().publicKey;
  await lab.addServerPeer({ publicKey: idleKey, allowedIps: ["10.77.200.1/32"], keepalive: 15 });
  const [half] = await lab.handshakeMany([{ confirm: false }]);
  for (const client of [roaming, psk, keepalive, site, excluded]) {
    if (!(await lab.ping(client))) throw new Error(`client ${client.iface} could not handshake`);
  }
  const wgQuickFile = `${lab.workDir}/${lab.iface}.conf`;
  await Deno.writeTextFile(
    wgQuickFile,
    [
      "[Interface]",
      "ListenPort = 51820",
      "",
      "[Peer]",
      `PublicKey = ${site.keys.publicKey}`,
      `Endpoint = 172.30.${site.index}.2:51821`,
      "AllowedIPs = 10.77.0.5/32",
      "",
      "[Peer]",
      `PublicKey = ${roaming.keys.publicKey}`,
      "AllowedIPs = 10.77.0.2/32",
      "",
    ].join("\n"),
  );
  return {
    roaming,
    psk,
    keepalive,
    site,
    excluded,
    idleKey,
    halfKey: half.keys.publicKey,
    wgQuickFile,
    stale: [roaming, psk, keepalive],
  };
}

/** The CLI flags that protect the site-to-site and the excluded peer. */
export function protectionFlags(s: MixedServer): string[] {
  return ["--wg-quick-config", s.wgQuickFile, "--exclude", s.excluded.keys.publicKey];
}

/** The configuration a purge must preserve, and what it must clear. */
export function configOf(peer: WgPeer) {
  return {
    publicKey: peer.publicKey,
    presharedKey: peer.presharedKey,
    allowedIps: peer.allowedIps,
    persistentKeepalive: peer.persistentKeepalive,
  };
}

/** Everything but the byte counters: what "untouched" means for a peer. */
export function stateOf(peer: WgPeer) {
  return { ...configOf(peer), endpoint: peer.endpoint, latestHandshake: peer.latestHandshake };
}

/** States keyed by public key: wireguard-go lists peers in no fixed order. */
export function statesByKey(peers: readonly WgPeer[]): Record<string, ReturnType<typeof stateOf>> {
  return Object.fromEntries(peers.map((p) => [p.publicKey, stateOf(p)]));
}

/** Finds a peer by key or throws. */
export function peerByKey(peers: readonly WgPeer[], key: string): WgPeer {
  const found = peers.find((p) => p.publicKey === key);
  if (found === undefined) throw new Error(`peer ${key.slice(0, 8)} is missing`);
  return found;
}
