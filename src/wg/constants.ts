/**
 * WireGuard's constants and the shapes of its identifiers, shared by the
 * dump parser, the redaction, the planner, the settings schema and the config
 * loaders, so that one rule decides what is valid.
 *
 * @module
 */
import { z } from "zod";

/** WireGuard's REJECT_AFTER_TIME in seconds: no session outlives it. */
export const REJECT_AFTER_TIME = 180;

/**
 * A WireGuard key, unanchored: 32 bytes in standard base64, which is always
 * 43 characters and one `=`. The last character before `=` carries only 4
 * bits, so it is one of the 16 characters whose low two bits are zero.
 */
export const WG_KEY_SOURCE = String.raw`[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=`;

/** A whole string that is a WireGuard key. */
export const WG_KEY_PATTERN: RegExp = new RegExp(`^${WG_KEY_SOURCE}$`);

/** zod schema for a WireGuard public or preshared key. */
export const wgKeySchema = z.string().regex(WG_KEY_PATTERN, {
  error: "is not a WireGuard key (44 characters of base64 ending in '=')",
});

/**
 * Linux interface names as wg-quick accepts them: at most 15 characters
 * (IFNAMSIZ - 1) from a safe set. A leading `-` is refused so that a name can
 * never be read by `wg` as an option.
 */
export const IFACE_NAME_PATTERN = /^[A-Za-z0-9_=+.][A-Za-z0-9_=+.-]{0,14}$/;

/** zod schema for one interface name (not the word `all`). */
export const ifaceNameSchema = z.string().regex(IFACE_NAME_PATTERN, {
  error: "is not a valid interface name (1-15 of A-Z a-z 0-9 _ = + . -, not starting with -)",
}).refine((name) => name !== "all", { error: "'all' cannot be mixed with interface names" });

/** A short, log-safe form of a public key: its first 8 characters. */
export function shortKey(key: string): string {
  return `${key.slice(0, 8)}…`;
}
