/**
 * `status` for people: handshake ages, the peer table with short keys and
 * endpoint families only, and counts by reason in words.
 */
import assert from "node:assert/strict";
import {
  byReason,
  formatAge,
  formatStatusTable,
  statusRows,
} from "../../src/commands/status_command.ts";
import { key, peer, policy } from "../support/peers.ts";
import { keptCounts, planAll } from "../support/whole_list.ts";

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

Deno.test("formatStatusTable shows short keys and families, never addresses, and times only when asked", async (t) => {
  const peers = [
    peer({ publicKey: key("a"), endpoint: "203.0.113.9:51820", latestHandshake: 1000 }),
    peer({ publicKey: key("b"), endpoint: "[2001:db8::1]:4500", latestHandshake: 1900 }),
  ];
  const now = 2000;
  const plans = planAll(peers, now, policy());
  const planned = [{
    iface: { name: "wg0", publicKey: null, listenPort: 0, fwmark: null },
    now,
    checked: plans.length,
    kept: keptCounts(plans),
    plans,
    nextDeadline: null,
    saveConfig: null,
    warnings: [],
  }];
  const cases: [string, boolean, string[][]][] = [
    ["by default", false, [
      ["INTERFACE", "PEER", "ENDPOINT", "DECISION", "REASON"],
      ["wg0", "aaaaaaaa…", "ipv4", "purge", "stale"],
      ["wg0", "bbbbbbbb…", "ipv6", "keep", "active"],
    ]],
    ["with --peer-times", true, [
      ["INTERFACE", "PEER", "ENDPOINT", "HANDSHAKE", "DECISION", "REASON"],
      ["wg0", "aaaaaaaa…", "ipv4", "16m40s", "purge", "stale"],
      ["wg0", "bbbbbbbb…", "ipv6", "1m40s", "keep", "active"],
    ]],
  ];
  for (const [name, peerTimes, expected] of cases) {
    await t.step(name, () => {
      const rows = statusRows(planned, new Map(), peerTimes);
      assert.strictEqual(rows.some((r) => "latestHandshake" in r), peerTimes);
      const table = formatStatusTable(rows);
      assert.deepStrictEqual(table.trimEnd().split("\n").map((l) => l.split(/\s+/)), expected);
    });
  }
});

Deno.test("byReason says counts in words, and any other reason as it is", async (t) => {
  const cases: [Record<string, number>, string][] = [
    [{}, "none"],
    [{ stale: 0, active: 0 }, "none"],
    [{ stale: 3, excluded: 1 }, "3 stale, 1 excluded"],
    [{ "no-endpoint": 2, "never-handshaked": 1 }, "2 without endpoint, 1 never connected"],
    [{ "some-new-reason": 1 }, "1 some new reason"],
    // A status file is read as it is: a reason named like an Object property is a word too.
    [{ constructor: 1, toString: 2 }, "1 constructor, 2 toString"],
  ];
  for (const [counts, words] of cases) {
    await t.step(JSON.stringify(counts), () => assert.strictEqual(byReason(counts), words));
  }
});
