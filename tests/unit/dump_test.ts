import assert from "node:assert/strict";
import fc from "fast-check";
import { ParseError } from "../../src/common/errors.ts";
import { formatInterfaceDump, parsePeerColumns, type WgInterface } from "../../src/wg/dump.ts";
import { parseAllDump, parseInterfaceDump } from "../support/dump_text.ts";

const PRIV = "UPNaPTAgN2uN73I4k15aLDhJ1ZpITYmzgc2jD41u6G0=";
const PUB = "C6pwgllX3suVHZl98d9TajLOdKp6MmJdMHvoKvH7pWA=";
const PEER = "jAzlNpn/ZyELH6wQcrrZDnMjpuk4oFeHDg9dzPZMPx8=";
const PSK = "mcQZxO1kGbXthU9jxduxIDalxFnN16OFR7xVaj3n/f0=";
const PEER2 = "9Ig7TZcwE/RWTLd2NRx1GAGEyfPz6/FfKgJDOxOszX8=";

// Captured from wireguard-go on this machine (keys are throwaway).
const SINGLE = [
  `${PRIV}\t${PUB}\t51820\toff`,
  `${PEER}\t${PSK}\t10.250.0.2:53068\t10.99.0.2/32,fd00::2/128\t1795610345\t276\t220\toff`,
  `${PEER2}\t(none)\t(none)\t10.99.0.9/32,fd00::9/128,10.99.1.0/24\t0\t0\t0\t25`,
  "",
].join("\n");

Deno.test("parseInterfaceDump reads every peer field", () => {
  const iface = parseInterfaceDump("wg0", SINGLE);
  assert.deepStrictEqual(iface, {
    name: "wg0",
    publicKey: PUB,
    listenPort: 51820,
    fwmark: null,
    peers: [
      {
        publicKey: PEER,
        presharedKey: PSK,
        endpoint: "10.250.0.2:53068",
        allowedIps: ["10.99.0.2/32", "fd00::2/128"],
        latestHandshake: 1795610345,
        rxBytes: 276,
        txBytes: 220,
        persistentKeepalive: null,
      },
      {
        publicKey: PEER2,
        presharedKey: null,
        endpoint: null,
        allowedIps: ["10.99.0.9/32", "fd00::9/128", "10.99.1.0/24"],
        latestHandshake: 0,
        rxBytes: 0,
        txBytes: 0,
        persistentKeepalive: 25,
      },
    ],
  });
});

Deno.test("parseAllDump groups lines by interface", () => {
  const text = [
    `wg0\t${PRIV}\t${PUB}\t51820\t0xca6c`,
    `wg0\t${PEER}\t(none)\t[fd00::1]:51820\t(none)\t1\t2\t3\t25`,
    `wg1\t(none)\t(none)\t0\toff`,
    `wg1\t${PEER2}\t(none)\t(none)\t10.0.0.1/32\t0\t0\t0\toff`,
  ].join("\n");
  const all = parseAllDump(text);
  assert.deepStrictEqual(all.map((i) => [i.name, i.peers.length, i.fwmark, i.publicKey]), [
    ["wg0", 1, 0xca6c, PUB],
    ["wg1", 1, null, null],
  ]);
  assert.deepStrictEqual(all[0].peers[0].allowedIps, []);
  assert.strictEqual(all[0].peers[0].endpoint, "[fd00::1]:51820");
});

function parseError(text: string): ParseError {
  try {
    parseInterfaceDump("wg0", text);
  } catch (error) {
    assert.ok(error instanceof ParseError, `expected ParseError, got ${error}`);
    return error;
  }
  assert.fail("no error");
}

Deno.test("parseInterfaceDump names the line and field of bad output", () => {
  const lines = SINGLE.split("\n");
  const cases: [string, number, string][] = [
    [lines[0].replace("51820", "99999"), 1, "listen-port"],
    [lines[1].replace("1795610345", "-5"), 2, "latest-handshake"],
    [lines[1].replace("10.99.0.2/32", "10.99.0.2/33"), 2, "allowed-ips"],
    [lines[2].replace("\t25", "\tsoon"), 3, "persistent-keepalive"],
    [lines[1].replace(PEER, "not-a-key"), 2, "public-key"],
  ];
  for (const [bad, line, field] of cases) {
    const patched = SINGLE.split("\n").map((l) => l === lines[line - 1] ? bad : l).join("\n");
    const error = parseError(patched);
    assert.strictEqual(error.position.line, line, bad);
    assert.strictEqual(error.position.field, field, bad);
    assert.ok(error instanceof SyntaxError);
    assert.match(error.message, new RegExp(`^wg output:${line}: ${field}: `));
  }
  assert.strictEqual(parseError("").position.field, "line");
  assert.match(
    parseError(SINGLE + "extra\tcolumns\n").message,
    /^wg output:4: line: expected 8 peer columns, got 2$/,
  );
});

Deno.test("parseInterfaceDump never repeats a secret or an address in its error", () => {
  const lines = SINGLE.split("\n");
  const badEndpoint = lines[1].replace("10.250.0.2:53068", "10.250.0.2:port");
  const e1 = parseError([lines[0], badEndpoint].join("\n"));
  assert.strictEqual(e1.position.field, "endpoint");
  assert.ok(!e1.message.includes("10.250.0.2"), e1.message);
  const badPsk = lines[1].replace(PSK, PSK.slice(0, 40) + "!!!=");
  const e2 = parseError([lines[0], badPsk].join("\n"));
  assert.strictEqual(e2.position.field, "preshared-key");
  assert.ok(!e2.message.includes(PSK.slice(0, 40)), e2.message);
  const badPriv = lines[0].replace(PRIV, PRIV.slice(0, 43) + "?");
  const e3 = parseError(badPriv);
  assert.strictEqual(e3.position.field, "private-key");
  assert.ok(!e3.message.includes(PRIV.slice(0, 20)), e3.message);
});

/** Whether `text` holds any 9 characters of `secret` in a row. */
function holdsPartOf(text: string, secret: string): boolean {
  for (let i = 0; i + 9 <= secret.length; i++) {
    if (text.includes(secret.slice(i, i + 9))) return true;
  }
  return false;
}

Deno.test("dump parse errors never echo a key that slid into another field", async (t) => {
  const [head, peerLine] = SINGLE.split("\n");
  const bare = PSK.slice(0, 43);
  const cols = peerLine.split("\t");
  const withField = (index: number, value: string) =>
    [head, cols.map((c, i) => (i === index ? value : c)).join("\t")].join("\n");
  const cases: [string, string, string][] = [
    ["an unpadded PSK in allowed-ips", withField(3, bare), "allowed-ips"],
    ["a padded PSK in allowed-ips", withField(3, PSK), "allowed-ips"],
    ["a PSK after a good CIDR in allowed-ips", withField(3, `10.99.0.2/32,${bare}`), "allowed-ips"],
    ["an unpadded PSK as the preshared key", withField(1, bare), "preshared-key"],
    ["a PSK in the endpoint", withField(2, PSK), "endpoint"],
    ["a PSK in latest-handshake", withField(4, bare), "latest-handshake"],
    ["a PSK in persistent-keepalive", withField(7, bare), "persistent-keepalive"],
    [
      "an unpadded private key",
      [head.replace(PRIV, PRIV.slice(0, 43)), peerLine].join("\n"),
      "private-key",
    ],
  ];
  for (const [name, text, field] of cases) {
    await t.step(name, () => {
      const error = parseError(text);
      assert.strictEqual(error.position.field, field, error.message);
      assert.ok(!holdsPartOf(error.message, PSK), error.message);
      assert.ok(!holdsPartOf(error.message, PRIV), error.message);
      assert.ok(!/[A-Za-z0-9+/]{32}/.test(error.message), error.message);
    });
  }
});

Deno.test("parseInterfaceDump says which allowed-ips entry is not a CIDR, not what it holds", () => {
  const [head, peerLine] = SINGLE.split("\n");
  const bad = peerLine.replace("10.99.0.2/32,fd00::2/128", `10.99.0.2/32,${PSK.slice(0, 43)}`);
  assert.strictEqual(
    parseError([head, bad].join("\n")).message,
    "wg output:2: allowed-ips: entry 2 of 2 (43 characters) is not a CIDR",
  );
});

Deno.test("parseAllDump refuses an interface name user input could not hold, without echoing it", async (t) => {
  const cases = ["../victim/data", "-wg0", "a".repeat(16), "wg 0", PSK.slice(0, 43)];
  for (const name of cases) {
    await t.step(JSON.stringify(name), () => {
      const text = `${name}\t${PRIV}\t${PUB}\t51820\toff\n`;
      assert.throws(() => parseAllDump(text), (e: unknown) => {
        assert.ok(e instanceof ParseError);
        assert.strictEqual(e.message, "wg output:1: interface: expected an interface name");
        return true;
      });
    });
  }
});

Deno.test("parseInterfaceDump refuses a peer listed twice, naming the second line", () => {
  const lines = SINGLE.split("\n");
  const error = parseError([lines[0], lines[1], lines[1], lines[2]].join("\n"));
  assert.strictEqual(error.message, "wg output:3: public-key: peer listed twice on wg0");
});

Deno.test("parseAllDump refuses a peer listed twice on one interface, naming the second line", () => {
  const peerLine = (iface: string) =>
    `${iface}\t${PEER}\t(none)\t(none)\t10.0.0.1/32\t0\t0\t0\toff`;
  const text = [
    `wg0\t${PRIV}\t${PUB}\t51820\toff`,
    peerLine("wg0"),
    `wg1\t(none)\t(none)\t0\toff`,
    peerLine("wg1"), // the same key on another interface is fine
    peerLine("wg1"),
  ].join("\n");
  assert.throws(() => parseAllDump(text), (e: unknown) => {
    assert.ok(e instanceof ParseError);
    assert.strictEqual(e.message, "wg output:5: public-key: peer listed twice on wg1");
    return true;
  });
});

Deno.test("parseAllDump refuses an interface listed again after another one", () => {
  const text = [
    `wg0\t${PRIV}\t${PUB}\t51820\toff`,
    `wg1\t(none)\t(none)\t0\toff`,
    `wg0\t${PEER}\t(none)\t(none)\t10.0.0.1/32\t0\t0\t0\toff`,
  ].join("\n");
  assert.throws(() => parseAllDump(text), (e: unknown) => {
    assert.ok(e instanceof ParseError);
    assert.strictEqual(
      e.message,
      "wg output:3: interface: wg0 is listed again after another interface",
    );
    return true;
  });
});

const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) =>
  btoa(String.fromCharCode(...b))
);
const ipv4Arb = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) =>
  p.join(".")
);
const ipv6Arb = fc.array(fc.nat(0xffff).map((n) => n.toString(16)), { minLength: 8, maxLength: 8 })
  .map((g) => g.join(":"));
const cidrArb = fc.oneof(
  fc.tuple(ipv4Arb, fc.nat(32)).map(([ip, p]) => `${ip}/${p}`),
  fc.tuple(ipv6Arb, fc.nat(128)).map(([ip, p]) => `${ip}/${p}`),
);
const endpointArb = fc.option(
  fc.oneof(
    fc.tuple(ipv4Arb, fc.nat(65535)).map(([ip, port]) => `${ip}:${port}`),
    fc.tuple(ipv6Arb, fc.nat(65535)).map(([ip, port]) => `[${ip}]:${port}`),
  ),
);
const u53 = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const peerArb = fc.record({
  publicKey: keyArb,
  presharedKey: fc.option(keyArb),
  endpoint: endpointArb,
  allowedIps: fc.array(cidrArb, { maxLength: 5 }),
  latestHandshake: u53,
  rxBytes: u53,
  txBytes: u53,
  persistentKeepalive: fc.option(fc.integer({ min: 1, max: 65535 })),
});
const ifaceArb = fc.record({
  name: fc.constant("wg0"),
  publicKey: fc.option(keyArb),
  listenPort: fc.nat(65535),
  fwmark: fc.option(fc.integer({ min: 1, max: 0xffffffff })),
  peers: fc.uniqueArray(peerArb, { selector: (p) => p.publicKey, maxLength: 20 }),
}) as fc.Arbitrary<WgInterface>;

Deno.test("parseInterfaceDump reads back any dump it is given", () => {
  fc.assert(
    fc.property(ifaceArb, fc.option(keyArb), (generated, priv) => {
      // fast-check builds null-prototype records; compare plain objects.
      const iface: WgInterface = JSON.parse(JSON.stringify(generated));
      assert.deepStrictEqual(parseInterfaceDump("wg0", formatInterfaceDump(iface, priv)), iface);
    }),
    { numRuns: 500 },
  );
});

Deno.test("parseInterfaceDump throws only ParseError on arbitrary text", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 400 }), (text) => {
      try {
        parseInterfaceDump("wg0", text);
      } catch (error) {
        assert.ok(error instanceof ParseError, String(error));
      }
    }),
    { numRuns: 10_000 },
  );
});

Deno.test("parseInterfaceDump's fast path agrees with the field-by-field parse on mutated lines", () => {
  const head = SINGLE.split("\n")[0];
  const base = SINGLE.split("\n")[1];
  const alphabet = "0123456789abcdefABCDEF:./,[]%()-=+\tnoefx ";
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(base.length), fc.constantFrom(...alphabet), fc.boolean()), {
        minLength: 1,
        maxLength: 4,
      }),
      (edits) => {
        let line = base;
        for (const [at, ch, insert] of edits) {
          line = line.slice(0, at) + ch + line.slice(insert ? at : at + 1);
        }
        let fast: unknown, detailed: unknown;
        try {
          fast = parseInterfaceDump("wg0", `${head}\n${line}\n`).peers[0];
        } catch (error) {
          assert.ok(error instanceof ParseError);
          fast = "error";
        }
        try {
          const cols = line.split("\t");
          detailed = cols.length === 8 ? parsePeerColumns(cols, 2) : "error";
        } catch (error) {
          assert.ok(error instanceof ParseError);
          detailed = "error";
        }
        assert.deepStrictEqual(fast, detailed, JSON.stringify(line));
      },
    ),
    { numRuns: 10_000 },
  );
});
