/**
 * What every configurator's reader shares: the checks of the values it keeps
 * (an interface name, a public key, an endpoint as WireGuard's configurators
 * take one), the step that turns a failed check into a {@link ParseError} at
 * `file:line`, and the names netplan reads. The messages never repeat the value: it is an address or
 * a key.
 *
 * @module
 */
import * as z from "../common/z.ts";
import { ParseError, type ParsePosition } from "../common/errors.ts";
import { IFACE_NAME_PATTERN, WG_KEY_PATTERN } from "../wg/constants.ts";

/** An interface name as the kernel and `wg` take it. */
export const ifaceNameSchema = z.string().check(z.regex(IFACE_NAME_PATTERN, {
  error: "is not a valid interface name (1-15 of A-Z a-z 0-9 _ = + . -, not starting with -)",
}));

/** A WireGuard public key. */
export const publicKeySchema = z.string().check(z.regex(WG_KEY_PATTERN, {
  error: "is not a WireGuard key (44 characters of base64 ending in '=')",
}));

const IPV4 = String
  .raw`(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`;
const LABEL = "[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?";
const HOSTNAME = `(?=[^:]{1,253}:)${LABEL}(?:\\.${LABEL})*\\.?`;
const ENDPOINT = new RegExp(
  `^(?:\\[(?<v6>[0-9A-Fa-f:.]+)(?:%[A-Za-z0-9_.-]+)?\\]|(?<v4>${IPV4})|(?<host>${HOSTNAME})):` +
    String.raw`(?<port>\d{1,5})$`,
);

/**
 * `a.b.c.d:port`, `[v6]:port` (a zone allowed) or `hostname:port`, the port
 * 1..65535: what networkd, netplan and NetworkManager all take. Service
 * names and an out-of-range dotted quad are refused, as networkd refuses
 * them; so is unbracketed IPv6 unless `bareIpv6` (NetworkManager splits at
 * the last `:` and takes `2001:db8::1:51820`).
 */
export function isEndpoint(value: string, { bareIpv6 = false } = {}): boolean {
  const colon = value.lastIndexOf(":");
  if (bareIpv6 && !value.startsWith("[") && value.indexOf(":") < colon) {
    return isEndpoint(`[${value.slice(0, colon)}]${value.slice(colon)}`);
  }
  const match = ENDPOINT.exec(value);
  if (match === null) return false;
  const port = Number(match.groups?.port);
  if (port < 1 || port > 65535) return false;
  const v6 = match.groups?.v6;
  // The URL parser's check of an IPv6 address is inet_pton's.
  if (v6 !== undefined) return v6.includes(":") && URL.canParse(`http://[${v6}]/`);
  // All digits and dots, yet no dotted quad (`300.1.1.1`): no host name either.
  const host = match.groups?.host;
  return host === undefined || !/^[\d.]+$/.test(host);
}

const ENDPOINT_ERROR = "expected a.b.c.d:port, [v6]:port or hostname:port with a port of 1-65535";

/** An endpoint, checked by {@link isEndpoint}. */
export const endpointSchema = z.string().check(
  z.refine((v) => isEndpoint(v), { error: ENDPOINT_ERROR }),
);

/** An endpoint as NetworkManager takes it: unbracketed IPv6 too. */
export const nmEndpointSchema = z.string().check(
  z.refine((v) => isEndpoint(v, { bareIpv6: true }), { error: ENDPOINT_ERROR }),
);

/**
 * The value of `schema` for `value`, or a {@link ParseError} at `position`
 * with the schema's first message.
 */
export function fieldOf<T extends z.ZodMiniType>(
  schema: T,
  value: unknown,
  position: ParsePosition,
): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ParseError(position, result.error.issues[0]?.message ?? "invalid value");
  }
  return result.data;
}

/** The names netplan reads, as its `*.yaml` glob matches them (not hidden). */
export const NETPLAN_FILE = /^[^.].*\.yaml$/;
