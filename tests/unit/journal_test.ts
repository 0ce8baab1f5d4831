/** The purge journal read back: what a kill at each point of writing it leaves. */
import assert from "node:assert/strict";
import { ParseError } from "../../src/common/errors.ts";
import { parseJournal } from "../../src/purge/journal.ts";
import { key } from "../support/peers.ts";

const IFACE = JSON.stringify({ t: "interface", name: "wg0", publicKey: null, listenPort: 51820 });
const call = (n: number, publicKey: string) =>
  JSON.stringify({
    t: "call",
    n,
    expectedMs: 100 * n,
    peers: [{ publicKey, allowedIps: ["10.0.0.1/32"], psk: null, keepalive: null }],
  });
const done = (n: number) => JSON.stringify({ t: "done", n });
const A = key("a");
const B = key("b");

Deno.test("parseJournal reads what a kill at each point of writing leaves", async (t) => {
  const cases: [string, string, string[] | null][] = [
    ["nothing written", "", null],
    ["the interface record cut", IFACE.slice(0, 20), null],
    ["the interface only", `${IFACE}\n`, []],
    ["a call recorded", `${IFACE}\n${call(1, A)}\n`, [A]],
    ["a call done", `${IFACE}\n${call(1, A)}\n${done(1)}\n`, []],
    [
      "the next call's record cut",
      `${IFACE}\n${call(1, A)}\n${done(1)}\n${call(2, B).slice(0, 30)}`,
      [],
    ],
    ["a done line cut", `${IFACE}\n${call(1, A)}\n${done(1).slice(0, 5)}`, [A]],
    ["the second call recorded", `${IFACE}\n${call(1, A)}\n${done(1)}\n${call(2, B)}\n`, [B]],
  ];
  for (const [name, text, unsettled] of cases) {
    await t.step(name, () => {
      const read = parseJournal(text);
      assert.deepStrictEqual(read?.unsettled.map((p) => p.publicKey) ?? null, unsettled);
    });
  }
});

Deno.test("parseJournal refuses a journal damaged before its last line, naming the line", () => {
  assert.throws(
    () => parseJournal(`${IFACE}\n{"t":"call"\n${done(1)}\n`),
    (e) => e instanceof ParseError && /purge journal:2/.test(e.message),
  );
});
