/**
 * Finds and reads what the host's configurators set up, once for all
 * interfaces: systemd-networkd, netplan and NetworkManager by default (each
 * turned off or pointed elsewhere by its setting), and OpenWrt's network
 * config when one is set. Each reader follows its owner's rules
 * (docs/configurators.md); this module only says which to run, where.
 *
 * @module
 */
import { ConfigError } from "../common/errors.ts";
import { describeFsError } from "../common/fs_errors.ts";
import type { ConfiguredPeer } from "./configured_peer.ts";
import { NETPLAN_FILE } from "./fields.ts";
import type { Settings } from "./schema.ts";
import type { WireguardNetwork } from "./uci_network.ts";

/** What the host's configurators set up, read once for all interfaces. */
export interface Configured {
  /** OpenWrt's network config, when one is set. */
  network: WireguardNetwork | null;
  /** The peers networkd, netplan and NetworkManager set up, with who set them up. */
  peers: { by: string; peer: ConfiguredPeer }[];
}

/** A reader, loaded when one of its directories holds a name it may read. */
interface Reader {
  by: string;
  dirs: (settings: Settings) => string;
  /** The names that load it; any by default. */
  loadFor?: RegExp;
  load: () => Promise<(dirs: readonly string[]) => Promise<ConfiguredPeer[]>>;
}

const READERS: readonly Reader[] = [
  {
    by: "networkd",
    dirs: (s) => s.networkdDirs,
    load: async () => (await import("./networkd.ts")).readNetworkd,
  },
  {
    by: "netplan",
    dirs: (s) => s.netplanDirs,
    // Its YAML parser costs about 20 MB: only a file it reads loads it.
    loadFor: NETPLAN_FILE,
    load: async () => (await import("./netplan.ts")).readNetplan,
  },
  {
    by: "NetworkManager",
    dirs: (s) => s.networkManagerDirs,
    load: async () => (await import("./network_manager.ts")).readNetworkManager,
  },
];

/** Paths of a `DIRS` setting: `:` between them, `off` for none. */
function dirsOf(value: string): string[] {
  return value === "off" ? [] : value.split(":").filter((d) => d !== "");
}

/**
 * Reads every configurator's files. A reader is loaded only when one of its
 * directories holds a name it may read, so a host without netplan files
 * never loads the YAML parser.
 *
 * @throws {ConfigError} naming file:line and field for a bad file, or a
 *   directory that cannot be read
 */
export async function loadConfigured(settings: Settings): Promise<Configured> {
  const peers: Configured["peers"] = [];
  for (const { by, dirs, loadFor, load } of READERS) {
    const paths = dirsOf(dirs(settings));
    if (!(await anyEntry(paths, loadFor ?? /(?:)/))) continue;
    for (const peer of await (await load())(paths)) peers.push({ by, peer });
  }
  return { network: await loadNetwork(settings), peers };
}

/** Whether any of `dirs` holds an entry named as `name` matches; a missing one holds none. */
async function anyEntry(dirs: readonly string[], name: RegExp): Promise<boolean> {
  for (const dir of dirs) {
    try {
      for await (const entry of Deno.readDir(dir)) if (name.test(entry.name)) return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw new ConfigError(`${dir}: cannot read directory: ${describeFsError(error)}`, {
        cause: error,
      });
    }
  }
  return false;
}

/** Reads the configured network config, or returns null when none is configured. */
export async function loadNetwork(settings: Settings): Promise<WireguardNetwork | null> {
  const path = settings.networkConfig;
  if (path === null) return null;
  // The UCI reader is loaded only when a network config is used: on OpenWrt.
  return (await import("./uci_network.ts")).loadWireguardNetwork(path);
}
