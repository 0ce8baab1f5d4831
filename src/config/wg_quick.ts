/**
 * Reads the peers of a wg-quick config (`/etc/wireguard/<iface>.conf`). Only
 * three facts matter here: each [Peer]'s public key, whether this side has
 * an Endpoint configured for it (a site-to-site peer that this side dials),
 * and whether [Interface] has `SaveConfig = true`, with which wg-quick itself
 * writes every peer's current endpoint into the file at each `down`.
 * Private and preshared keys in the file are skipped without being kept.
 *
 * @module
 */
import { ParseError } from "../common/errors.ts";
import { WG_KEY_PATTERN } from "../wg/constants.ts";

/** A [Peer] section of a wg-quick file. */
export interface WgQuickPeer {
  publicKey: string;
  /** True when the section has an `Endpoint =` line. */
  hasEndpoint: boolean;
}

/** A wg-quick file, as far as it matters here. */
export interface WgQuickFile {
  peers: WgQuickPeer[];
  /** `SaveConfig = true` in [Interface]: wg-quick rewrites the file, endpoints and all. */
  saveConfig: boolean;
}

/**
 * Parses wg-quick config text. Keys are case-insensitive, as wg-quick reads
 * them; `#` starts a comment.
 *
 * @param source the file name, for error messages
 * @throws {ParseError} `file:line` for a [Peer] without a valid PublicKey
 */
export function parseWgQuick(text: string, source: string): WgQuickFile {
  const peers: WgQuickPeer[] = [];
  let saveConfig = false;
  let inInterface = false;
  let current: (WgQuickPeer & { line: number }) | null = null;
  const finish = () => {
    if (current === null) return;
    if (current.publicKey === "") {
      throw new ParseError({ source, line: current.line }, "[Peer] has no PublicKey");
    }
    peers.push({ publicKey: current.publicKey, hasEndpoint: current.hasEndpoint });
    current = null;
  };
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const stripped = raw.replace(/#.*$/, "").trim();
    if (stripped === "") return;
    const section = /^\[(.+)\]$/.exec(stripped);
    if (section) {
      finish();
      const name = section[1].toLowerCase();
      inInterface = name === "interface";
      if (name === "peer") current = { publicKey: "", hasEndpoint: false, line };
      return;
    }
    const eq = stripped.indexOf("=");
    if (eq < 0) return;
    const key = stripped.slice(0, eq).trim().toLowerCase();
    const value = stripped.slice(eq + 1).trim();
    // wg-quick's read_bool takes exactly `true` or `false`.
    if (inInterface && key === "saveconfig") saveConfig = value === "true";
    if (current === null) return;
    if (key === "publickey") {
      if (!WG_KEY_PATTERN.test(value)) {
        throw new ParseError({ source, line, field: "PublicKey" }, "is not a WireGuard key");
      }
      current.publicKey = value;
    } else if (key === "endpoint" && value !== "") {
      current.hasEndpoint = true;
    }
  });
  finish();
  return { peers, saveConfig };
}
