/**
 * The secrecy audit: while 100 peers with preshared keys are purged, no
 * process's command line holds a PSK; afterwards the key directory is gone;
 * and the debug log holds no PSK and no endpoint address.
 */
import assert from "node:assert/strict";
import { CliProcess } from "../harness/cli.ts";
import { WgLab } from "../harness/lab.ts";
import { sh } from "../harness/sh.ts";
import { withWrapper } from "../support/wrappers.ts";

const PEERS = 100;

/** Every process's command line, as any local user could read it. */
async function allCmdlines(): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      out.push((await Deno.readTextFile(`/proc/${entry.name}/cmdline`)).replaceAll("\0", " "));
    } catch { /* the process ended */ }
  }
  return out;
}

Deno.test("purging 100 PSK peers puts no PSK in any command line, file or log line", async () => {
  const lab = await WgLab.start();
  const keyParent = await Deno.makeTempDir({ prefix: "wr-audit-" });
  try {
    const peers = await lab.handshakeMany(Array.from({ length: PEERS }, () => ({ psk: true })));
    assert.ok(peers.every((p) => p.result.ok));
    const psks = peers.map((p) => p.psk!);
    const endpoints = (await lab.dump()).peers.map((p) => p.endpoint!.replace(/:\d+$/, ""));

    const { logs, sampled, sawSet } = await withWrapper(
      `#!/bin/sh
# Not a fake: the real wg, started 0.5 s late so the sampler sees the call.
[ "$1" = set ] && sleep 0.5
exec @WG@ "$@"
`,
      async (wg) => {
        const proc = new CliProcess(
          ["run", "-i", lab.iface, "--wg", wg, "--log-level", "debug", "--key-dir", keyParent],
          { clockShift: 600 },
        );
        let done = false;
        const finished = proc.wait().finally(() => (done = true));
        let sampled = 0;
        let sawSet = 0;
        while (!done) {
          for (const line of await allCmdlines()) {
            sampled++;
            if (line.includes(` set ${lab.iface} peer `)) sawSet++;
            for (const psk of psks) assert.ok(!line.includes(psk), "a PSK is in a command line");
          }
          await new Promise((r) => setTimeout(r, 5));
        }
        const status = await finished;
        assert.strictEqual(status.code, 0, proc.log);
        // Both streams: debug and info lines go to stdout, warnings and errors to stderr.
        return { logs: proc.log, sampled, sawSet };
      },
    );
    console.log(`sampled ${sampled} command lines; the wg set call was seen ${sawSet} times`);
    assert.ok(sawSet > 0, "the sampler saw the wg set call with its arguments");
    assert.deepStrictEqual([...Deno.readDirSync(keyParent)], [], "the key directory is gone");
    assert.ok(logs.split("\n").filter((l) => /\[DBG\]|\[INF\]/.test(l)).length >= PEERS);
    for (const psk of psks) assert.ok(!logs.includes(psk), "a PSK is in the log");
    for (const address of new Set(endpoints)) {
      assert.ok(!logs.includes(address), "an endpoint is in the log");
    }
    // And the PSKs survived the purge.
    const after = new Map((await lab.dump()).peers.map((p) => [p.publicKey, p.presharedKey]));
    for (const p of peers) assert.strictEqual(after.get(p.keys.publicKey), p.psk);
  } finally {
    await lab.close();
    await sh(["rm", "-rf", keyParent]);
  }
});
