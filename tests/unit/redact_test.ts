import assert from "node:assert/strict";
import fc from "fast-check";
import { endpointFamily, redactPeers, redactText } from "../../src/wg/redact.ts";
import { key, keyArb } from "../support/peers.ts";

// A real-looking key (from a throwaway wireguard-go dump): mixed case, digits, `/`.
const PSK = "mcQZxO1kGbXthU9jxduxIDalxFnN16OFR7xVaj3n/f0=";

Deno.test("redactText removes endpoint addresses and full keys", () => {
  const text = `peer ${key("k")} at 203.0.113.9:51820 and [2001:db8::1]:4500 via 10.0.0.2/32`;
  const out = redactText(text);
  assert.ok(!out.includes("203.0.113.9"), out);
  assert.ok(!out.includes("2001:db8::1"), out);
  assert.ok(!out.includes(key("k")), out);
  assert.ok(out.includes("10.0.0.2/32"), "tunnel CIDRs stay");
  assert.ok(redactText("2026-11-25T12:37:30.000Z done").includes("12:37:30"), "timestamps stay");
});

Deno.test("redactText leaves no key-shaped run, padded or not, wherever it sits", async (t) => {
  const bare = PSK.slice(0, 43);
  const cases: [string, string][] = [
    ["a padded key", `Key is not the correct length or format: \`${PSK}'`],
    ["a key without its =", `Key is not the correct length or format: \`${bare}'`],
    ["a key in a tab-separated field", `line 2\t10.0.0.2/32\t${bare}\t0`],
    ["a key glued to other base64", `xyz${bare}QUJD`],
    ["two keys glued together", `${PSK}${PSK}`],
    ["a key cut short to 40 characters", `psk ${PSK.slice(0, 40)} end`],
    ["a key in a JSON string", JSON.stringify({ error: PSK })],
    ["a key with == padding", `${bare.slice(0, 42)}==`],
    ["a key inside a path", `/run/wg/${bare}/psk`],
  ];
  for (const [name, text] of cases) {
    await t.step(name, () => {
      const out = redactText(text);
      assert.ok(!/[A-Za-z0-9+/]{32}/.test(out), out);
      // Not even a part of the key longer than its short form survives.
      for (let i = 0; i + 9 <= bare.length; i++) {
        assert.ok(!out.includes(bare.slice(i, i + 9)), `${out} holds ${bare.slice(i, i + 9)}`);
      }
    });
  }
});

Deno.test("redactText keeps short base64 words, paths with separators and CIDRs", async (t) => {
  const cases: string[] = [
    "wg set wg0 failed: Unable to modify interface: Protocol not supported",
    "cannot write a preshared-key file in /var/run/wg-reinstate/keys-abc123: No space left",
    "allowed-ips 10.0.0.0/8,fd00::/64 of wg0",
    "peer AbCdEfGh… removed",
    // 31 characters: below the threshold.
    "token " + "a".repeat(31),
  ];
  for (const text of cases) {
    await t.step(text, () => assert.strictEqual(redactText(text), text));
  }
});

Deno.test("redactText redacts any random key in any surrounding text", () => {
  fc.assert(
    fc.property(
      keyArb,
      fc.boolean(),
      fc.string({ maxLength: 20 }),
      fc.string({ maxLength: 20 }),
      (k, padded, before, after) => {
        const shown = padded ? k : k.slice(0, 43);
        const out = redactText(`${before}${shown}${after}`);
        assert.ok(!out.includes(k.slice(8, 32)), out);
      },
    ),
    { numRuns: 2_000 },
  );
});

Deno.test("redactPeers leaves no trace of a key, padded or not", async (t) => {
  for (const shown of [PSK, PSK.slice(0, 43)]) {
    await t.step(shown.endsWith("=") ? "padded" : "unpadded", () => {
      const out = redactPeers(`wg set wg0 failed: bad key ${shown}`);
      assert.strictEqual(out, "wg set wg0 failed: bad key (a peer)");
    });
  }
});

Deno.test("endpointFamily tells only the address family", () => {
  assert.strictEqual(endpointFamily("203.0.113.9:1"), "ipv4");
  assert.strictEqual(endpointFamily("[2001:db8::1]:1"), "ipv6");
  assert.strictEqual(endpointFamily(null), "none");
});
