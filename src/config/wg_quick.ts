/**
 * Reads the peers of a wg-quick config (`/etc/wireguard/<iface>.conf`) as
 * wg-quick and `wg` read it, since a spelling either accepts configures the
 * interface. Three facts matter here: each [Peer]'s public key, whether this
 * side has an endpoint configured for it (a site-to-site peer that this side
 * dials), and whether [Interface] has `SaveConfig = true`, with which
 * wg-quick itself writes every peer's current endpoint into the file at each
 * `down`. Private and preshared keys in the file are skipped without being
 * kept.
 *
 * The file is read in wg-quick's two steps. wg-quick takes its own keys
 * (Address, PostUp, SaveConfig, …) out of the `[Interface]` section: it cuts
 * a line at the first `#`, trims key and value, and compares them ignoring
 * case, with the section header spelled `[Interface]`. It hands every other
 * line to `wg addconf`, which cuts at the first `#`, removes all whitespace
 * (so `[ Peer ]` and `Public Key = …` count), compares sections and keys
 * ignoring case, and refuses the whole file at a line it does not know: such
 * a file is refused here too, since `wg-quick up` fails on it.
 *
 * A `PreUp` or `PostUp` command `wg set %i peer KEY … endpoint HOST:PORT`
 * also gives a peer an endpoint, and is read as one; a hook that may set an
 * endpoint some other way (a variable, `wg addconf`, another tool) cannot be
 * read, and is returned as a warning.
 *
 * @module
 */
import { ParseError } from "../common/errors.ts";
import { WG_KEY_PATTERN } from "../wg/constants.ts";

/** A peer of a wg-quick file. */
export interface WgQuickPeer {
  publicKey: string;
  /** 1-based line of its first `Endpoint =`, or null. */
  endpointLine: number | null;
  /** 1-based line of the first hook that sets its endpoint, or null. */
  hookLine: number | null;
  /** 1-based line of its first `[Peer]` header (or of the hook that names it). */
  line: number;
}

/** A wg-quick file, as far as it matters here. */
export interface WgQuickFile {
  /** Every peer, once, in the order first seen. */
  peers: WgQuickPeer[];
  /** `SaveConfig = true` in [Interface]: wg-quick rewrites the file, endpoints and all. */
  saveConfig: boolean;
  /** Lines of hooks that may set an endpoint in a way not read here. */
  unreadHooks: number[];
}

/** The keys `wg` takes in each section; anything else makes it refuse the file. */
const WG_KEYS = {
  interface: ["listenport", "fwmark", "privatekey"],
  peer: ["publickey", "presharedkey", "allowedips", "endpoint", "persistentkeepalive"],
} as const;

/** The keys wg-quick takes out of [Interface] before `wg` sees the rest. */
const WG_QUICK_KEYS = new Set([
  "address",
  "dns",
  "mtu",
  "table",
  "preup",
  "postup",
  "predown",
  "postdown",
  "saveconfig",
]);

/** Hooks run before or after the interface is configured, which can set endpoints. */
const UP_HOOKS = new Set(["preup", "postup"]);

/**
 * Parses wg-quick config text.
 *
 * @param source the file name, for error messages
 * @param iface the interface, which `%i` in a hook stands for
 * @throws {ParseError} `file:line` for a line `wg` or wg-quick refuses, or a [Peer]
 *   without a valid PublicKey
 */
export function parseWgQuick(text: string, source: string, iface: string): WgQuickFile {
  const peers = new Map<string, WgQuickPeer>();
  let saveConfig = false;
  const unreadHooks: number[] = [];
  let wgQuickInterface = false;
  let wgSection: "interface" | "peer" | null = null;
  let current: { line: number; publicKey: string; endpointLine: number | null } | null = null;
  const note = (peer: WgQuickPeer) => {
    const known = peers.get(peer.publicKey);
    if (known === undefined) peers.set(peer.publicKey, peer);
    else {
      known.endpointLine ??= peer.endpointLine;
      known.hookLine ??= peer.hookLine;
    }
  };
  const finish = () => {
    if (current === null) return;
    if (current.publicKey === "") {
      throw new ParseError({ source, line: current.line, field: "[Peer]" }, "has no PublicKey");
    }
    note({ ...current, hookLine: null });
    current = null;
  };
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const hash = raw.indexOf("#");
    const stripped = hash < 0 ? raw : raw.slice(0, hash);
    // Step 1, wg-quick: its own keys in [Interface] never reach `wg`.
    const eq = stripped.indexOf("=");
    const key = asciiLower(trimSpace(eq < 0 ? stripped : stripped.slice(0, eq)));
    if (key.startsWith("[")) wgQuickInterface = key === "[interface]";
    if (wgQuickInterface && WG_QUICK_KEYS.has(key)) {
      const value = trimSpace(stripped.slice(eq + 1));
      if (key === "saveconfig") {
        saveConfig = wgQuickBool(value, { source, line, field: "SaveConfig" });
      }
      if (UP_HOOKS.has(key)) {
        // As wireguard-tools 1.0.20210914 (Debian 12) runs it: cut at `#`, trimmed.
        const hook = readHook(value.replaceAll("%i", iface), iface);
        if (hook.unread) unreadHooks.push(line);
        for (const publicKey of hook.endpoints) {
          note({ publicKey, line, endpointLine: null, hookLine: line });
        }
      }
      return;
    }
    // Step 2, `wg addconf`: no whitespace at all, sections and keys in any case.
    const compact = stripped.replace(SPACE_G, "");
    if (compact === "") return;
    const lower = asciiLower(compact);
    if (lower === "[interface]" || lower === "[peer]") {
      finish();
      wgSection = lower === "[peer]" ? "peer" : "interface";
      if (wgSection === "peer") current = { line, publicKey: "", endpointLine: null };
      return;
    }
    const known = wgSection === null
      ? undefined
      : WG_KEYS[wgSection].find((k) => lower.startsWith(`${k}=`) && lower.length > k.length + 1);
    if (known === undefined) {
      throw new ParseError(
        { source, line, field: wgSection === null ? "before any section" : `[${wgSection}]` },
        "wg does not understand this line, so wg-quick up fails with this file",
      );
    }
    if (current === null) return;
    const value = compact.slice(known.length + 1);
    if (known === "publickey") {
      if (!WG_KEY_PATTERN.test(value)) {
        throw new ParseError({ source, line, field: "PublicKey" }, "is not a WireGuard key");
      }
      current.publicKey = value;
    } else if (known === "endpoint") current.endpointLine = line;
  });
  finish();
  return { peers: [...peers.values()], saveConfig, unreadHooks };
}

/** The whitespace of bash's `[[:space:]]` and wg's `char_is_space`, in the C locale. */
const SPACE = "[ \\t\\n\\v\\f\\r]";
const SPACE_G = new RegExp(SPACE, "g");
const EDGE_SPACE = new RegExp(`^${SPACE}+|${SPACE}+$`, "g");

/** Trims as wg-quick does: C-locale whitespace only (not a no-break space). */
function trimSpace(text: string): string {
  return text.replace(EDGE_SPACE, "");
}

/** Lower case as `strcasecmp` and bash's nocasematch see it in the C locale: A-Z only. */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/** wg-quick's read_bool, called where wg-quick compares ignoring case: `TRUE` is true. */
function wgQuickBool(value: string, at: { source: string; line: number; field: string }): boolean {
  const lower = asciiLower(value);
  if (lower === "true" || lower === "false") return lower === "true";
  throw new ParseError(at, "is neither true nor false");
}

/** Words that show a hook may give a peer an endpoint. */
const MAY_SET_ENDPOINT = /endpoint|addconf|setconf|syncconf/i;

/**
 * Reads the endpoints a hook sets with `wg set IFACE peer KEY … endpoint X`.
 * Anything that may set one otherwise (quoting, variables, command
 * substitution, `wg addconf`) makes the hook unread.
 */
function readHook(hook: string, iface: string): { endpoints: string[]; unread: boolean } {
  const endpoints: string[] = [];
  let unread = false;
  for (const command of hook.split(/;|&&|\|\||\||\n/)) {
    if (!MAY_SET_ENDPOINT.test(command)) continue;
    const words = command.trim().split(/[ \t]+/);
    const wg = words.findIndex((w, i) => /(^|\/)wg$/.test(w) && words[i + 1] === "set");
    if (wg < 0 || /["'`$\\(){}<>*?]/.test(command)) {
      unread = true;
      continue;
    }
    // Another interface's: that interface's own files are read for it, not this one.
    if (words[wg + 2] !== iface) {
      unread = true;
      continue;
    }
    let peer: string | null = null;
    for (let i = wg + 3; i < words.length; i++) {
      if (words[i] === "peer") peer = words[++i] ?? null;
      else if (words[i] === "endpoint") {
        if (peer !== null && WG_KEY_PATTERN.test(peer)) endpoints.push(peer);
        else unread = true;
        i++;
      }
    }
  }
  return { endpoints, unread };
}
