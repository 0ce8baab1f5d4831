import assert from "node:assert/strict";
import { endpointSchema, fieldOf, isEndpoint } from "../../src/config/fields.ts";
import { ParseError } from "../../src/common/errors.ts";

Deno.test("isEndpoint takes what networkd, netplan and NetworkManager take, and no more", async (t) => {
  const cases: [string, boolean][] = [
    ["192.0.2.1:51820", true],
    ["[2001:db8::1]:51820", true],
    ["[fe80::1%eth0]:51820", true],
    ["vpn.example.org:51820", true],
    ["vpn.example.org.:1", true],
    ["host_1:65535", true],
    ["192.0.2.1:0", false],
    ["192.0.2.1:65536", false],
    ["300.1.1.1:51820", false],
    ["2001:db8::1:51820", false],
    ["[192.0.2.1]:51820", false],
    ["[vpn.example.org]:51820", false],
    ["vpn.example.org:wireguard", false],
    ["vpn.example.org", false],
    ["192.0.2.1:51820 # office", false],
    ["-bad.example:1", false],
    ["", false],
  ];
  for (const [value, expected] of cases) {
    await t.step(value || "(empty)", () => assert.strictEqual(isEndpoint(value), expected));
  }
  await t.step("unbracketed IPv6, as NetworkManager splits it at the last colon", () => {
    assert.strictEqual(isEndpoint("2001:db8::1:51820", { bareIpv6: true }), true);
    assert.strictEqual(isEndpoint("2001:db8::1:0", { bareIpv6: true }), false);
    assert.strictEqual(isEndpoint("2001:db8::g:51820", { bareIpv6: true }), false);
  });
});

Deno.test("fieldOf names file, line and field, never the value", () => {
  assert.strictEqual(
    fieldOf(endpointSchema, "192.0.2.1:1", { source: "f", line: 1 }),
    "192.0.2.1:1",
  );
  assert.throws(
    () =>
      fieldOf(endpointSchema, "198.51.100.7:0", { source: "a.netdev", line: 9, field: "Endpoint" }),
    (e: Error) =>
      e instanceof ParseError && e.message.startsWith("a.netdev:9: Endpoint: expected ") &&
      !e.message.includes("198.51.100.7"),
  );
});
