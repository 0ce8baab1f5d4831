import assert from "node:assert/strict";
import { isCutAllowedIp, isCutKeepalive } from "../../src/wg/cut_line.ts";

Deno.test("isCutKeepalive tells a keepalive cut short from another one", async (t) => {
  const cases: [number | null, number | null, boolean][] = [
    [25, 2, true],
    [120, 12, true],
    [120, 1, true],
    [25, 25, false],
    [25, 5, false],
    [2, 25, false],
    [25, null, false],
    [null, 2, false],
  ];
  for (const [ours, now, expected] of cases) {
    await t.step(
      `${ours} -> ${now}`,
      () => assert.strictEqual(isCutKeepalive(ours, now), expected),
    );
  }
});

Deno.test("isCutAllowedIp tells an allowed IP with its length cut short, as wireguard-go masks it", async (t) => {
  const cases: [string[], string, boolean][] = [
    [["10.9.0.12/32"], "0.0.0.0/3", true],
    [["10.9.0.12/32"], "10.9.0.12/3", true],
    [["172.16.0.0/24"], "128.0.0.0/2", true],
    [["172.16.0.0/24"], "0.0.0.0/2", false],
    [["10.9.0.12/32"], "10.9.0.12/31", false],
    [["10.9.0.12/32"], "10.9.0.12/32", false],
    [["10.0.0.0/8"], "0.0.0.0/0", false],
    [["fd00::1234/128"], "fd00::/12", true],
    [["fd00::1234/128"], "8000::/1", true],
    [["fd00::1234/128"], "::/1", false],
    [["::ffff:10.1.2.3/128"], "::/12", true],
    [["fd00::1234/128"], "0.0.0.0/1", false],
    [["10.9.0.12/32", "fd00::1/128"], "fd00::/12", true],
    [["not an address/32"], "0.0.0.0/3", false],
    [["10.9.0.12/32"], "garbage", false],
  ];
  for (const [ours, now, expected] of cases) {
    await t.step(
      `${ours.join(",")} -> ${now}`,
      () => assert.strictEqual(isCutAllowedIp(ours, now), expected),
    );
  }
});
