/**
 * WireGuard's constants and the shapes of its identifiers, shared by the
 * dump parser, the redaction, the planner, the settings schema and the config
 * loaders, so that one rule decides what is valid. Plain values only: loading
 * this module costs nothing.
 *
 * @module
 */

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

/**
 * Linux interface names as wg-quick accepts them: at most 15 characters
 * (IFNAMSIZ - 1) from a safe set. A leading `-` is refused so that a name can
 * never be read by `wg` as an option.
 */
export const IFACE_NAME_PATTERN = /^[A-Za-z0-9_=+.][A-Za-z0-9_=+.-]{0,14}$/;

/** A short, log-safe form of a public key: its first 8 characters. */
export function shortKey(key: string): string {
  return `${key.slice(0, 8)}…`;
}
