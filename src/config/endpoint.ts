/**
 * The checks every configurator's reader makes of the values it keeps: an
 * endpoint as WireGuard's configurators take one, and the step that turns a
 * failed check into a {@link ParseError} at `file:line`. The messages never
 * repeat the value: it is an address or a key.
 *
 * @module
 */
import * as z from "../common/z.ts";
import { ParseError, type ParsePosition } from "../common/errors.ts";

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
 * 1..65535: what networkd, netplan and NetworkManager all take. Unbracketed
 * IPv6, service names and an out-of-range dotted quad are refused, as
 * networkd refuses them.
 */
export function isEndpoint(value: string): boolean {
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

/** An endpoint, checked by {@link isEndpoint}. */
export const endpointSchema = z.string().check(z.refine(isEndpoint, {
  error: "expected a.b.c.d:port, [v6]:port or hostname:port with a port of 1-65535",
}));

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
