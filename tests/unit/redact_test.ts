import assert from "node:assert/strict";
import { endpointFamily, redactText } from "../../src/wg/redact.ts";
import { key } from "../support/peers.ts";

Deno.test("redactText removes endpoint addresses and full keys", () => {
  const text = `peer ${key("k")} at 203.0.113.9:51820 and [2001:db8::1]:4500 via 10.0.0.2/32`;
  const out = redactText(text);
  assert.ok(!out.includes("203.0.113.9"), out);
  assert.ok(!out.includes("2001:db8::1"), out);
  assert.ok(!out.includes(key("k")), out);
  assert.ok(out.includes("10.0.0.2/32"), "tunnel CIDRs stay");
  assert.ok(redactText("2026-11-25T12:37:30.000Z done").includes("12:37:30"), "timestamps stay");
});

Deno.test("endpointFamily tells only the address family", () => {
  assert.strictEqual(endpointFamily("203.0.113.9:1"), "ipv4");
  assert.strictEqual(endpointFamily("[2001:db8::1]:1"), "ipv6");
  assert.strictEqual(endpointFamily(null), "none");
});
