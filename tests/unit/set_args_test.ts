import assert from "node:assert/strict";
import fc from "fast-check";
import { chunkByArgSize, replaceArgs } from "../../src/wg/set_args.ts";
import { key, peer, peerArb } from "../support/peers.ts";

Deno.test("replaceArgs removes and re-adds a peer with its whole configuration", () => {
  const k = key("a");
  assert.deepStrictEqual(
    replaceArgs(
      peer({
        publicKey: k,
        allowedIps: ["fd00::2/128", "10.0.0.2/32"],
        presharedKey: key("p"),
        persistentKeepalive: 25,
      }),
      "/tmp/x/psk-0",
    ),
    [
      "peer",
      k,
      "remove",
      "peer",
      k,
      "allowed-ips",
      "fd00::2/128,10.0.0.2/32",
      "preshared-key",
      "/tmp/x/psk-0",
      "persistent-keepalive",
      "25",
    ],
  );
  assert.deepStrictEqual(replaceArgs(peer({ publicKey: k, allowedIps: [] }), null), [
    "peer",
    k,
    "remove",
    "peer",
    k,
  ]);
});

Deno.test("replaceArgs refuses a PSK peer without a key file, so a PSK is never dropped", () => {
  assert.throws(
    () => replaceArgs(peer({ publicKey: key("a"), presharedKey: key("p") }), null),
    /preshared-key file/,
  );
});

Deno.test("chunkByArgSize keeps order, respects the budget and uses few chunks", () => {
  const size = (args: readonly string[]) =>
    args.reduce((n, a) => n + new TextEncoder().encode(a).length + 9, 0);
  fc.assert(
    fc.property(
      fc.array(peerArb, { maxLength: 200 }),
      fc.integer({ min: 100, max: 20_000 }),
      (peers, budget) => {
        const items = peers.map((p) =>
          replaceArgs(p, p.presharedKey === null ? null : "/tmp/d/psk-0")
        );
        const chunks = chunkByArgSize(items, (a) => a, budget);
        assert.deepStrictEqual(chunks.flat(), items);
        for (const [i, chunk] of chunks.entries()) {
          const total = chunk.reduce((n, a) => n + size(a), 0);
          assert.ok(
            chunk.length === 1 || total <= budget,
            `chunk over budget: ${total} > ${budget}`,
          );
          // Greedy: the next item would not have fit into this chunk.
          if (i + 1 < chunks.length) assert.ok(total + size(chunks[i + 1][0]) > budget);
        }
      },
    ),
    { numRuns: 300 },
  );
});
