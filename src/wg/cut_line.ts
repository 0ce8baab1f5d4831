/**
 * What a `wg set` cut mid-line leaves behind on wireguard-go.
 *
 * `wg` writes a `set` to wireguard-go's control socket through a stdio
 * buffer, so a `wg` killed part-way leaves the stream cut at any byte.
 * wireguard-go applies each line as it reads it, and applies the last one
 * even without its newline (measured with wireguard-go 0.0.20220316; see
 * docs/safety.md). So a cut inside a number leaves a shorter number in force:
 * `persistent_keepalive_interval=25` cut to `=2` sets a keepalive of 2 s, and
 * `allowed_ip=10.0.0.12/32` cut to `/3` adds `0.0.0.0/3`. No other line we
 * write parses when cut (keys are fixed-length hex, `remove=true` is
 * literal, an address without its `/` is refused). The kernel takes whole
 * netlink messages, so it is never left with such a value.
 *
 * A peer of a cut call that shows such a value was damaged by the cut, not
 * changed by someone else, and is put back.
 *
 * @module
 */

/** Whether keepalive `now` is `ours` with its last digits cut off. */
export function isCutKeepalive(ours: number | null, now: number | null): boolean {
  if (ours === null || now === null) return false;
  return isCutNumber(String(ours), String(now));
}

/**
 * Whether allowed IP `now` (as `wg show` prints it) is one of `ours` with
 * digits cut off its prefix length, as wireguard-go stores it (masked).
 */
export function isCutAllowedIp(ours: readonly string[], now: string): boolean {
  const cut = parsePrefix(now);
  if (cut === null) return false;
  return ours.some((ip) => {
    const mine = parsePrefix(ip);
    return mine !== null && mine.bytes.length === cut.bytes.length &&
      isCutNumber(String(mine.length), String(cut.length)) &&
      sameUnder(mine.bytes, cut.bytes, cut.length);
  });
}

function isCutNumber(whole: string, cut: string): boolean {
  return cut.length > 0 && cut.length < whole.length && whole.startsWith(cut);
}

/** Whether the first `bits` bits of `a` and `b` agree. */
function sameUnder(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const bit = (x: Uint8Array) => (x[i >> 3] >> (7 - (i & 7))) & 1;
    if (bit(a) !== bit(b)) return false;
  }
  return true;
}

interface Prefix {
  bytes: Uint8Array;
  length: number;
}

function parsePrefix(text: string): Prefix | null {
  const slash = text.lastIndexOf("/");
  if (slash < 0 || !/^\d{1,3}$/.test(text.slice(slash + 1))) return null;
  const address = text.slice(0, slash);
  const bytes = address.includes(":") ? parseIpv6(address) : parseIpv4(address);
  const length = Number(text.slice(slash + 1));
  if (bytes === null || length > bytes.length * 8) return null;
  return { bytes, length };
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    return null;
  }
  return Uint8Array.from(parts.map(Number));
}

function parseIpv6(text: string): Uint8Array | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (half: string): number[] | null => {
    if (half === "") return [];
    const out: number[] = [];
    const parts = half.split(":");
    for (const [i, part] of parts.entries()) {
      if (i === parts.length - 1 && part.includes(".")) {
        const v4 = parseIpv4(part);
        if (v4 === null) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-f]{1,4}$/i.test(part)) {
        out.push(parseInt(part, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === null || tail === null) return null;
  const zeros = 8 - head.length - tail.length;
  if (halves.length === 2 ? zeros < 1 : zeros !== 0) return null;
  const all = [...head, ...Array(zeros).fill(0), ...tail];
  return Uint8Array.from(all.flatMap((g) => [g >> 8, g & 0xff]));
}
