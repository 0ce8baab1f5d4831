import assert from "node:assert/strict";
import { verifyPurged } from "../../src/purge/verify.ts";
import { key, peer } from "../support/peers.ts";

const before = peer({
  publicKey: key("a"),
  presharedKey: key("p"),
  allowedIps: ["10.0.0.2/32", "fd00::2/128"],
  persistentKeepalive: 25,
  latestHandshake: 500,
});
const fresh = { ...before, endpoint: null, latestHandshake: 0, rxBytes: 0, txBytes: 0 };

Deno.test("verifyPurged accepts a peer re-added as it was", () => {
  assert.deepStrictEqual(verifyPurged([before], [fresh]), []);
});

Deno.test("verifyPurged accepts a peer that handshaked again since", () => {
  assert.deepStrictEqual(
    verifyPurged([before], [{ ...fresh, endpoint: "192.0.2.9:1", latestHandshake: 900 }]),
    [],
  );
  // An answered initiation without confirmation: endpoint set, handshake 0.
  assert.deepStrictEqual(verifyPurged([before], [{ ...fresh, endpoint: "192.0.2.9:1" }]), []);
});

Deno.test("verifyPurged reports every difference", () => {
  const cases: [object, string[]][] = [
    [{ allowedIps: ["fd00::2/128", "10.0.0.2/32"] }, ["allowed-ips"]],
    [{ presharedKey: null }, ["preshared-key"]],
    [{ persistentKeepalive: null }, ["persistent-keepalive"]],
    [{ endpoint: before.endpoint, latestHandshake: 500 }, ["endpoint-kept"]],
    [{ presharedKey: key("q"), allowedIps: [] }, ["allowed-ips", "preshared-key"]],
  ];
  for (const [change, problems] of cases) {
    const found = verifyPurged([before], [{ ...fresh, ...change }]);
    assert.deepStrictEqual(found.map((f) => f.problems), [problems], JSON.stringify(change));
    assert.strictEqual(found[0].expected, before);
  }
  assert.deepStrictEqual(verifyPurged([before], []).map((f) => f.problems), [["missing"]]);
});

Deno.test("verifyPurged accepts an unconfirmed peer whose client sent a new initiation", () => {
  const unconfirmed = { ...before, latestHandshake: 0 };
  assert.deepStrictEqual(
    verifyPurged([unconfirmed], [{ ...fresh, endpoint: "192.0.2.9:1" }]),
    [],
  );
});
