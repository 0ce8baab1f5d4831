/** The random order in which a purge hands peers to `wg`. */
import assert from "node:assert/strict";
import { shuffled } from "../../src/purge/order.ts";

Deno.test("shuffled draws each permutation of three from the index it is given", async (t) => {
  // Fisher–Yates asks for an index in [0, 3), then one in [0, 2).
  const cases: [number, number, string][] = [
    [2, 1, "abc"],
    [2, 0, "bac"],
    [1, 1, "acb"],
    [1, 0, "cab"],
    [0, 1, "cba"],
    [0, 0, "bca"],
  ];
  for (const [first, second, expected] of cases) {
    await t.step(`${first}, ${second}`, () => {
      const draws = [first, second];
      const asked: number[] = [];
      const out = shuffled(["a", "b", "c"], (n) => (asked.push(n), draws.shift()!));
      assert.deepStrictEqual(asked, [3, 2]);
      assert.strictEqual(out.join(""), expected);
    });
  }
});

Deno.test("shuffled by default puts every element everywhere, about evenly, and leaves its input", () => {
  const input = [0, 1, 2, 3];
  const seen = input.map(() => input.map(() => 0));
  for (let i = 0; i < 4000; i++) {
    const out = shuffled(input);
    assert.deepStrictEqual([...out].sort(), input);
    out.forEach((v, at) => seen[v][at]++);
  }
  assert.deepStrictEqual(input, [0, 1, 2, 3]);
  // Each of the 16 cells expects 1,000; 800 is over six standard deviations below.
  for (const row of seen) for (const n of row) assert.ok(n > 800 && n < 1200, String(seen));
});
