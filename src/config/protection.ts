/**
 * Builds each interface's {@link Policy}: the threshold, the excluded keys,
 * and the peers whose endpoint this side configured, from a wg-quick file
 * and (on OpenWrt) the network config. It also says why each peer is
 * protected, for `wg-reinstate config`.
 *
 * @module
 */
import { ConfigError } from "../common/errors.ts";
import { describeFsError } from "../common/fs_errors.ts";
import type { Policy } from "../purge/mod.ts";
import { parseConfig, readRegularText } from "./read_file.ts";
import type { Settings } from "./schema.ts";
import { SETTINGS } from "./settings_registry.ts";
import type { WireguardNetwork } from "./uci_network.ts";
import { parseWgQuick } from "./wg_quick.ts";

/** Where wg-quick keeps its configs; used when no path is configured. */
export const DEFAULT_WG_QUICK_CONFIG = "/etc/wireguard/%i.conf";

/** A peer that is never purged, and why. */
export interface ProtectedPeer {
  publicKey: string;
  /** e.g. `excluded`, `Endpoint in /etc/wireguard/wg0.conf`. */
  reasons: string[];
  /** The peer's description from the network config, if any. */
  description: string | null;
}

/** Everything known about protecting one interface's peers. */
export interface InterfaceProtection {
  policy: Policy;
  protectedPeers: ProtectedPeer[];
}

/**
 * Loads the protection of one interface.
 *
 * A missing file at the default wg-quick path is normal (not every interface
 * is run by wg-quick). A missing file at a path the user configured is an
 * error: a typo there would otherwise silently purge the site-to-site peers
 * it was meant to protect.
 *
 * @param network the parsed network config, when the caller already read it
 * @throws {ConfigError} when a configured file is missing, or any file is unreadable or invalid
 */
export async function loadProtection(
  settings: Settings,
  iface: string,
  network?: WireguardNetwork | null,
): Promise<InterfaceProtection> {
  // Own properties only: an interface may be called `constructor`.
  const override = Object.hasOwn(settings.interfaceOverrides, iface)
    ? settings.interfaceOverrides[iface]
    : {};
  const found = new Protection();
  const exclude = new Set([...settings.exclude, ...(override.exclude ?? [])]);
  for (const key of exclude) found.because(key, "excluded");
  await addWgQuickPeers(found, settings, iface);
  const net = network !== undefined ? network : await loadNetwork(settings);
  for (const peer of net?.peers ?? []) {
    if (peer.iface !== iface) continue;
    if (peer.description !== null) found.descriptions.set(peer.publicKey, peer.description);
    if (peer.dialed) {
      found.dialed(
        peer.publicKey,
        `endpoint_host in ${settings.networkConfig} (section ${peer.section})`,
      );
    } else found.withoutEndpoint.add(peer.publicKey);
  }
  return {
    policy: {
      staleAfter: override.staleAfter ?? settings.staleAfter,
      exclude,
      configuredEndpoints: found.endpoints,
      // A key listed both with and without an endpoint counts as configured.
      configuredWithoutEndpoint: new Set(
        [...found.withoutEndpoint].filter((k) => !found.endpoints.has(k)),
      ),
      saveConfig: found.saveConfig,
    },
    protectedPeers: [...found.reasons].map(([publicKey, why]) => ({
      publicKey,
      reasons: why,
      description: found.descriptions.get(publicKey) ?? null,
    })),
  };
}

/** What the config files say about one interface's peers, as they are read. */
class Protection {
  readonly reasons = new Map<string, string[]>();
  readonly descriptions = new Map<string, string>();
  /** Peers whose endpoint this side dials. */
  readonly endpoints = new Set<string>();
  /** Peers a config lists without an endpoint. */
  readonly withoutEndpoint = new Set<string>();
  /** The wg-quick file with `SaveConfig = true`, or `null`. */
  saveConfig: string | null = null;

  because(key: string, reason: string): void {
    // Appended in place: a file that repeats one key 65,536 times stays linear.
    const reasons = this.reasons.get(key);
    if (reasons === undefined) this.reasons.set(key, [reason]);
    else reasons.push(reason);
  }

  dialed(key: string, reason: string): void {
    this.endpoints.add(key);
    this.because(key, reason);
  }
}

/** The peers of the interface's wg-quick file, when there is one. */
async function addWgQuickPeers(found: Protection, settings: Settings, iface: string) {
  const path = (settings.wgQuickConfig ?? DEFAULT_WG_QUICK_CONFIG).replaceAll("%i", iface);
  const text = await readOptional(
    path,
    settings.wgQuickConfig !== null,
    SETTINGS.wgQuickConfig.flag,
  );
  if (text === null) return;
  const file = parseConfig(() => parseWgQuick(text, path));
  // With SaveConfig, wg-quick wrote the Endpoint lines itself, at its last
  // `down`: on a server they are where roaming clients last were, not peers
  // this side dials. Protecting them would keep every such client's address;
  // but one may be dialled, so its endpoint is not taken for a replay either.
  if (file.saveConfig) found.saveConfig = path;
  for (const peer of file.peers) {
    if (!peer.hasEndpoint) found.withoutEndpoint.add(peer.publicKey);
    else if (!file.saveConfig) found.dialed(peer.publicKey, `Endpoint in ${path}`);
  }
}

/** Reads the configured network config, or returns null when none is configured. */
export async function loadNetwork(settings: Settings): Promise<WireguardNetwork | null> {
  const path = settings.networkConfig;
  if (path === null) return null;
  // The UCI reader is loaded only when a network config is used: on OpenWrt.
  return (await import("./uci_network.ts")).loadWireguardNetwork(path);
}

async function readOptional(
  path: string,
  required: boolean,
  field: string,
): Promise<string | null> {
  try {
    return await readRegularText(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && !required) return null;
    throw new ConfigError(`${field}: ${path}: ${describeFsError(error)}`, { cause: error });
  }
}
