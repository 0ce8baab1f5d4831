import assert from "node:assert/strict";
import { matchConfig, stillAsRead, verifyPurged } from "../../src/purge/verify.ts";
import { key, peer } from "../support/peers.ts";

const before = peer({
  publicKey: key("a"),
  presharedKey: key("p"),
  allowedIps: ["10.0.0.2/32", "fd00::2/128"],
  persistentKeepalive: 25,
  latestHandshake: 500,
});
const fresh = { ...before, endpoint: null, latestHandshake: 0, rxBytes: 0, txBytes: 0 };
const cut = new Set([before.publicKey]);

Deno.test("verifyPurged accepts a peer re-added as it was", () => {
  assert.deepStrictEqual(verifyPurged([before], [fresh]), { findings: [], leftAlone: [] });
});

Deno.test("verifyPurged accepts a peer that handshaked again since", () => {
  const again = verifyPurged([before], [{
    ...fresh,
    endpoint: "192.0.2.9:1",
    latestHandshake: 900,
  }]);
  assert.deepStrictEqual(again.findings, []);
  // An answered initiation without confirmation: endpoint set, handshake 0.
  assert.deepStrictEqual(
    verifyPurged([before], [{ ...fresh, endpoint: "192.0.2.9:1" }]).findings,
    [],
  );
});

Deno.test("verifyPurged repairs what a call that did not finish may have done", async (t) => {
  const cases: [string, object | null, string[]][] = [
    ["missing", null, ["missing"]],
    ["allowed IPs dropped", { allowedIps: ["10.0.0.2/32"] }, ["allowed-ips"]],
    ["no allowed IPs", { allowedIps: [] }, ["allowed-ips"]],
    ["no key", { presharedKey: null }, ["preshared-key"]],
    ["no keepalive", { persistentKeepalive: null }, ["persistent-keepalive"]],
    ["keepalive 25 cut to 2", { persistentKeepalive: 2 }, ["persistent-keepalive"]],
    ["allowed IP /32 cut to /3", { allowedIps: ["0.0.0.0/3"] }, ["allowed-ips"]],
    ["allowed IP /128 cut to /12", {
      allowedIps: ["10.0.0.2/32", "fd00::/12"],
    }, ["allowed-ips"]],
    ["all of it", { allowedIps: [], presharedKey: null }, ["allowed-ips", "preshared-key"]],
    ["whole, never started", {}, ["unsettled"]],
    ["never reached", { endpoint: before.endpoint, latestHandshake: 500 }, ["endpoint-kept"]],
  ];
  for (const [name, change, problems] of cases) {
    await t.step(name, () => {
      const found = verifyPurged([before], change === null ? [] : [{ ...fresh, ...change }], cut);
      assert.deepStrictEqual(found.findings.map((f) => f.problems), [problems]);
      assert.strictEqual(found.findings[0].expected, before);
      assert.deepStrictEqual(found.leftAlone, []);
    });
  }
});

Deno.test("verifyPurged leaves alone what someone else did", async (t) => {
  const cases: [string, object | null, boolean, "removed" | "changed"][] = [
    ["removed after a call that exited 0", null, false, "removed"],
    ["allowed IPs dropped after a call that exited 0", { allowedIps: [] }, false, "changed"],
    ["a new key", { presharedKey: key("q") }, true, "changed"],
    ["new allowed IPs", { allowedIps: ["10.9.9.9/32"] }, true, "changed"],
    [
      "reordered plus one more",
      { allowedIps: [...before.allowedIps, "10.1.1.1/32"] },
      true,
      "changed",
    ],
    ["a new keepalive", { persistentKeepalive: 5 }, true, "changed"],
    ["keepalive 2 after a call that exited 0", { persistentKeepalive: 2 }, false, "changed"],
    [
      "two values a single cut cannot leave",
      {
        allowedIps: ["0.0.0.0/3"],
        persistentKeepalive: 2,
      },
      true,
      "changed",
    ],
  ];
  for (const [name, change, unsettled, kind] of cases) {
    await t.step(name, () => {
      const found = verifyPurged(
        [before],
        change === null ? [] : [{ ...fresh, ...change }],
        unsettled ? cut : new Set(),
      );
      assert.deepStrictEqual(found.findings, []);
      assert.deepStrictEqual(found.leftAlone, [{ publicKey: before.publicKey, change: kind }]);
    });
  }
});

Deno.test("verifyPurged accepts an unconfirmed peer whose client sent a new initiation", () => {
  const unconfirmed = { ...before, latestHandshake: 0 };
  assert.deepStrictEqual(
    verifyPurged([unconfirmed], [{ ...fresh, endpoint: "192.0.2.9:1" }]).findings,
    [],
  );
});

Deno.test("matchConfig compares allowed IPs as sets", () => {
  const reordered = { ...before, allowedIps: [...before.allowedIps].reverse() };
  assert.deepStrictEqual(matchConfig(before, reordered), { kind: "same" });
});

Deno.test("stillAsRead keeps a peer as read and leaves out one someone else touched", async (t) => {
  const cases: [string, object | null, "keep" | "removed" | "changed" | "active"][] = [
    ["as read", {}, "keep"],
    ["removed", null, "removed"],
    ["a new key", { presharedKey: key("q") }, "changed"],
    ["handshook again", { latestHandshake: 900 }, "active"],
  ];
  for (const [name, change, expected] of cases) {
    await t.step(name, () => {
      const split = stillAsRead([before], change === null ? [] : [{ ...before, ...change }]);
      const got = split.keep.length === 1 ? "keep" : split.leftAlone[0]?.change;
      assert.strictEqual(got, expected);
    });
  }
});
