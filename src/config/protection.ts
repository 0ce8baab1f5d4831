/**
 * Builds each interface's {@link Policy}: the threshold, the excluded keys,
 * and the peers whose endpoint this side configured.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { Policy } from "../purge/plan.ts";
import { describeFsError } from "./json_file.ts";
import type { Settings } from "./schema.ts";
import { parseWgQuickPeers } from "./wg_quick.ts";

/** Where wg-quick keeps its configs; used when no path is configured. */
export const DEFAULT_WG_QUICK_CONFIG = "/etc/wireguard/%i.conf";

/**
 * Loads the policy for one interface.
 *
 * A missing file at the default path is normal (not every interface is run
 * by wg-quick). A missing file at a path the user configured is an error: a
 * typo there would otherwise silently purge the site-to-site peers it was
 * meant to protect.
 *
 * @throws {ConfigError} when a configured file is missing, or any file is unreadable or invalid
 */
export async function loadPolicy(settings: Settings, iface: string): Promise<Policy> {
  const template = settings.wgQuickConfig ?? DEFAULT_WG_QUICK_CONFIG;
  const path = template.replaceAll("%i", iface);
  const configuredEndpoints = new Set<string>();
  let text: string | null = null;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound) || settings.wgQuickConfig !== null) {
      throw new ConfigError(`wg-quick-config: ${path}: ${describeFsError(error)}`);
    }
  }
  if (text !== null) {
    for (const peer of parseWgQuickPeers(text, path)) {
      if (peer.hasEndpoint) configuredEndpoints.add(peer.publicKey);
    }
  }
  return {
    staleAfter: settings.staleAfter,
    exclude: new Set(settings.exclude),
    configuredEndpoints,
  };
}
