/**
 * Privacy helpers. The tool exists to forget where peers connected from, so
 * nothing it prints or logs may carry an endpoint address or a key in full.
 *
 * @module
 */
import { shortKey } from "./constants.ts";

/** What may be said about an endpoint: its address family, never the address. */
export type EndpointFamily = "ipv4" | "ipv6" | "none";

/** The address family of an endpoint as `wg` prints it (`1.2.3.4:5` or `[::1]:5`). */
export function endpointFamily(endpoint: string | null): EndpointFamily {
  if (endpoint === null) return "none";
  return endpoint.startsWith("[") ? "ipv6" : "ipv4";
}

// `addr:port` for IPv4 and `[addr]:port` for IPv6 are how endpoints appear in
// wg's output and errors. Bare CIDRs such as 10.0.0.2/32 (tunnel addresses)
// are left alone: they are configuration, not where someone connected from.
const IPV4_ENDPOINT = /\b(?:\d{1,3}\.){3}\d{1,3}:\d{1,5}\b/g;
const IPV6_ENDPOINT = /\[[0-9A-Fa-f:.%A-Za-z_-]*\]:\d{1,5}/g;
// Any run of 32 or more base64 characters, padded or not: a full key (43
// characters and `=`), one without its `=`, one glued to other base64, or
// most of one, which would leave too few bits to guess. Public keys are
// shortened, and a preshared key that somehow reached a message is not
// printed whole. A path of that many letters and slashes alone is shortened
// too: the price of never missing a key.
const LONG_BASE64 = /[A-Za-z0-9+/]{32,}={0,2}/g;

/**
 * Removes endpoint addresses and keys from free text (a `wg` error message,
 * an exception) before it is logged or shown: every run of 32 or more base64
 * characters, with or without `=`, is cut to its first 8 and `…`.
 */
export function redactText(text: string): string {
  return text
    .replace(IPV6_ENDPOINT, "[redacted-ipv6]:*")
    .replace(IPV4_ENDPOINT, "redacted-ipv4:*")
    .replace(LONG_BASE64, shortKey);
}

// A key already shortened by {@link shortKey}: 8 base64 characters and an ellipsis.
const SHORT_KEY = /[A-Za-z0-9+/]{8}…/g;

/**
 * {@link redactText}, then no trace of any key at all, not even its short
 * form: for text kept in a file (the status file), where nothing may tie a
 * line to a peer.
 */
export function redactPeers(text: string): string {
  return redactText(text).replace(SHORT_KEY, "(a peer)");
}
