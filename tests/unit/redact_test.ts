import assert from "node:assert/strict";
import { formatAge, formatStatusTable, statusRows } from "../../src/cli/status.ts";
import { endpointFamily, redactText } from "../../src/wg/redact.ts";
import { key, peer } from "../support/peers.ts";
import { planPurge } from "../../src/purge/plan.ts";

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

Deno.test("formatAge reads like a duration", () => {
  assert.deepStrictEqual([null, -3, 0, 59, 187, 7500, 200000].map(formatAge), [
    "never",
    "in the future",
    "0s",
    "59s",
    "3m07s",
    "2h05m",
    "2d07h",
  ]);
});

Deno.test("formatStatusTable shows short keys and families, never addresses", () => {
  const peers = [
    peer({ publicKey: key("a"), endpoint: "203.0.113.9:51820", latestHandshake: 1000 }),
    peer({ publicKey: key("b"), endpoint: "[2001:db8::1]:4500", latestHandshake: 1900 }),
  ];
  const now = 2000;
  const rows = statusRows([{
    iface: { name: "wg0", publicKey: null, listenPort: 0, fwmark: null, peers },
    now,
    plans: planPurge(peers, now, {
      staleAfter: 180,
      exclude: new Set(),
      configuredEndpoints: new Set(),
      configuredWithoutEndpoint: new Set(),
    }),
  }]);
  const table = formatStatusTable(rows);
  assert.deepStrictEqual(table.trimEnd().split("\n").map((l) => l.split(/\s+/)), [
    ["INTERFACE", "PEER", "ENDPOINT", "HANDSHAKE", "DECISION", "REASON"],
    ["wg0", "aaaaaaaa…", "ipv4", "16m40s", "purge", "stale"],
    ["wg0", "bbbbbbbb…", "ipv6", "1m40s", "keep", "active"],
  ]);
});
