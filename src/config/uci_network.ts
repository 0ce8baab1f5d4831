/**
 * Reads WireGuard peers from OpenWrt's /etc/config/network. There a
 * WireGuard interface is `config interface '<name>'` with
 * `option proto 'wireguard'`, and its peers are sections of type
 * `wireguard_<name>`. A peer with `endpoint_host` is one this router dials
 * (site-to-site) and is protected; a disabled peer is ignored.
 *
 * @module
 */
import { ConfigError } from "../common/errors.ts";
import { WG_KEY_PATTERN } from "../wg/constants.ts";
import { optionValue, type UciPackage } from "./uci.ts";
import { readUci, uciBool } from "./uci_settings.ts";

/** A peer configured in the network config. */
export interface NetworkPeer {
  /** The interface (and kernel device) name. */
  iface: string;
  /** The UCI section's name, e.g. `cfg0a1b2c` or `site_a`. */
  section: string;
  publicKey: string;
  description: string | null;
  /** True when `endpoint_host` is set: this router dials the peer. */
  dialed: boolean;
}

/** The WireGuard part of a network config. */
export interface WireguardNetwork {
  /** Interfaces with `proto wireguard`, in file order. */
  interfaces: string[];
  /** Enabled peers of every interface. */
  peers: NetworkPeer[];
}

const PEER_TYPE = /^wireguard_(.+)$/;

/**
 * Extracts WireGuard interfaces and peers from a parsed network config.
 *
 * @throws {ConfigError} for a peer whose public_key is not a WireGuard key
 */
export function wireguardNetwork(pkg: UciPackage, source: string): WireguardNetwork {
  const interfaces = pkg.sections
    .filter((s) => s.type === "interface" && optionValue(s, "proto") === "wireguard")
    .map((s) => s.name);
  const peers: NetworkPeer[] = [];
  for (const section of pkg.sections) {
    const match = PEER_TYPE.exec(section.type);
    if (match === null) continue;
    const at = `${source}:${section.line}: config ${section.type} '${section.name}'`;
    const disabled = optionValue(section, "disabled");
    if (disabled !== undefined && uciBool(disabled, `${at}: option disabled`)) continue;
    const publicKey = optionValue(section, "public_key");
    // netifd skips a peer without a key, so the kernel has no such peer either.
    if (publicKey === undefined) continue;
    if (!WG_KEY_PATTERN.test(publicKey)) {
      throw new ConfigError(`${at}: option public_key: is not a WireGuard key`);
    }
    peers.push({
      iface: match[1],
      section: section.name,
      publicKey,
      description: optionValue(section, "description") ?? null,
      dialed: (optionValue(section, "endpoint_host") ?? "") !== "",
    });
  }
  return { interfaces, peers };
}

/** Reads the network config at `path`. */
export async function loadWireguardNetwork(path: string): Promise<WireguardNetwork> {
  return wireguardNetwork(await readUci(path), path);
}
