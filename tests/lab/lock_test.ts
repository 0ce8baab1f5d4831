/**
 * One writer per interface: a second run while another holds the
 * interface's lock is skipped with exit code 3, and nothing interleaves.
 */
import assert from "node:assert/strict";
import { CliProcess, runCli } from "../harness/cli.ts";
import { WgLab } from "../harness/lab.ts";
import { configOf } from "../harness/scenario.ts";
import { waitForFile, withWrapper } from "../support/wrappers.ts";

Deno.test("two concurrent runs on one interface: the second is refused with exit 3", async () => {
  const lab = await WgLab.start();
  const lockDir = await Deno.makeTempDir({ prefix: "wr-locks-" });
  try {
    const peers = await lab.handshakeMany(
      Array.from({ length: 20 }, (_, i) => ({ psk: i % 2 === 0 })),
    );
    assert.ok(peers.every((p) => p.result.ok));
    const before = (await lab.dump()).peers;
    const { first, second } = await withWrapper(
      `#!/bin/sh
# Not a fake: the real wg, started 1 s late, so the first run holds the lock
# while the second one starts.
[ "$1" = set ] && touch @DIR@/started && sleep 1
exec @WG@ "$@"
`,
      async (wg, dir) => {
        const firstRun = new CliProcess(
          ["run", "-i", lab.iface, "--wg", wg, "--lock-dir", lockDir],
          {
            clockShift: 600,
          },
        );
        await waitForFile(`${dir}/started`);
        const second = await runCli(["run", "-i", lab.iface, "--lock-dir", lockDir, "--json"], {
          clockShift: 600,
        });
        const first = { status: await firstRun.wait(), stderr: firstRun.log };
        return { first, second };
      },
    );
    assert.strictEqual(first.status.code, 0, first.stderr);
    assert.strictEqual(second.code, 3, second.log);
    assert.match(
      second.log,
      new RegExp(`${lab.iface}: another wg-reinstate is purging it; skipped`),
    );
    assert.deepStrictEqual(JSON.parse(second.stdout).busy, [lab.iface]);
    const after = (await lab.dump()).peers;
    assert.strictEqual(after.length, before.length);
    for (const p of before) {
      const now = after.find((x) => x.publicKey === p.publicKey)!;
      assert.deepStrictEqual(configOf(now), configOf(p));
      assert.strictEqual(now.endpoint, null);
    }
    // Once the first run is over, the lock is free again.
    const third = await runCli(["run", "-i", lab.iface, "--lock-dir", lockDir], {
      clockShift: 600,
    });
    assert.strictEqual(third.code, 0, third.log);
  } finally {
    await lab.close();
    await Deno.remove(lockDir, { recursive: true });
  }
});

Deno.test("run over several interfaces purges the ones that exist and names the missing one", async () => {
  const lab = await WgLab.start();
  try {
    const peers = await lab.handshakeMany([{ psk: true }, {}]);
    assert.ok(peers.every((p) => p.result.ok));
    // The same interface twice must not lock against itself.
    const r = await runCli(["run", "-i", lab.iface, "-i", lab.iface, "-i", "wrnosuch9", "--json"], {
      clockShift: 600,
    });
    assert.strictEqual(r.code, 1, r.log);
    assert.match(r.log, /wrnosuch9: WireGuard interface wrnosuch9 does not exist/);
    const report = JSON.parse(r.stdout);
    assert.deepStrictEqual(report.busy, []);
    assert.strictEqual(
      report.interfaces.find((i: { name: string }) => i.name === lab.iface).purged.length,
      2,
    );
    assert.ok((await lab.dump()).peers.every((p) => p.endpoint === null));
  } finally {
    await lab.close();
  }
});
