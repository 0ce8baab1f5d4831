/**
 * Builds each interface's {@link Policy}: the threshold, the excluded keys,
 * and the peers whose endpoint this side configured, from every configurator
 * that set the interface up: its wg-quick file, read here, and what
 * ./configurators.ts read (systemd-networkd, netplan, NetworkManager, and on
 * OpenWrt the network config). It also says where each peer is protected,
 * `file:line`, for `wg-reinstate config`.
 *
 * @module
 */
import { ConfigError } from "../common/errors.ts";
import { describeFsError } from "../common/fs_errors.ts";
import type { Policy } from "../purge/mod.ts";
import { type Configured, loadConfigured } from "./configurators.ts";
import { parseConfig, readRegularText } from "./read_file.ts";
import type { Settings } from "./schema.ts";
import { SETTINGS } from "./settings_registry.ts";
import { parseWgQuick } from "./wg_quick.ts";

/** Where wg-quick keeps its configs; used when no path is configured. */
export const DEFAULT_WG_QUICK_CONFIG = "/etc/wireguard/%i.conf";

/** A peer that is never purged, and why. */
export interface ProtectedPeer {
  publicKey: string;
  /** e.g. `excluded`, `wg-quick Endpoint at /etc/wireguard/wg0.conf:12`. */
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
 * is run by wg-quick); a dangling symbolic link there is not, nor a missing
 * file at a path the user configured: a typo there would otherwise silently
 * purge the site-to-site peers it was meant to protect.
 *
 * @param configured what the configurators set up, when the caller already read it
 * @throws {ConfigError} when a configured file is missing, or any file is unreadable or invalid
 */
export async function loadProtection(
  settings: Settings,
  iface: string,
  configured?: Configured,
): Promise<InterfaceProtection> {
  // Own properties only: an interface may be called `constructor`.
  const override = Object.hasOwn(settings.interfaceOverrides, iface)
    ? settings.interfaceOverrides[iface]
    : {};
  const found = new Protection();
  const exclude = new Set([...settings.exclude, ...(override.exclude ?? [])]);
  for (const key of exclude) found.because(key, "excluded");
  await addWgQuickPeers(found, settings, iface);
  const { network, peers } = configured ?? await loadConfigured(settings);
  for (const peer of network?.peers ?? []) {
    if (peer.iface !== iface) continue;
    if (peer.description !== null) found.descriptions.set(peer.publicKey, peer.description);
    if (peer.dialed) {
      found.dialed(
        peer.publicKey,
        `endpoint_host in ${settings.networkConfig} (section ${peer.section})`,
      );
    } else found.withoutEndpoint.add(peer.publicKey);
  }
  for (const { by, peer } of peers) {
    if (peer.iface !== iface) continue;
    if (peer.endpointAt === null) found.withoutEndpoint.add(peer.publicKey);
    else found.dialed(peer.publicKey, `${by} endpoint at ${peer.endpointAt}`);
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
      warnings: found.warnings,
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
  readonly warnings: string[] = [];

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
  const file = parseConfig(() => parseWgQuick(text, path, iface));
  // With SaveConfig, wg-quick wrote the Endpoint lines itself, at its last
  // `down`: on a server they are where roaming clients last were, not peers
  // this side dials. Protecting them would keep every such client's address;
  // but one may be dialled, so its endpoint is not taken for a replay either.
  // A hook is the admin's own line, which wg-quick keeps as it was.
  if (file.saveConfig) found.saveConfig = path;
  for (const peer of file.peers) {
    if (peer.hookLine !== null) {
      found.dialed(peer.publicKey, `wg-quick hook at ${path}:${peer.hookLine}`);
    }
    if (peer.endpointLine !== null && !file.saveConfig) {
      found.dialed(peer.publicKey, `wg-quick Endpoint at ${path}:${peer.endpointLine}`);
    } else if (peer.endpointLine === null && peer.hookLine === null) {
      found.withoutEndpoint.add(peer.publicKey);
    }
  }
  for (const line of file.unreadHooks) {
    found.warnings.push(
      `${path}:${line}: a hook may set an endpoint in a way not read here; ` +
        `--exclude the peers it dials`,
    );
  }
}

async function readOptional(
  path: string,
  required: boolean,
  field: string,
): Promise<string | null> {
  try {
    return await readRegularText(path);
  } catch (error) {
    const dangling = error instanceof Deno.errors.NotFound && await isLink(path);
    if (error instanceof Deno.errors.NotFound && !required && !dangling) return null;
    const why = dangling ? "is a symbolic link to nothing" : describeFsError(error);
    throw new ConfigError(`${field}: ${path}: ${why}`, { cause: error });
  }
}

async function isLink(path: string): Promise<boolean> {
  try {
    return (await Deno.lstat(path)).isSymlink;
  } catch {
    return false;
  }
}
