/**
 * Public keys in /proc: while a purge runs, `wg set` shows the public keys of
 * the peers being purged in its command line, which any local user can read.
 * Reproduced here with an unprivileged sampler (`nobody`) reading every
 * `/proc/<pid>/cmdline`, then closed with the documented mitigation: the
 * same sampler with /proc mounted `hidepid=invisible` (its own procfs
 * instance, in a private mount namespace) sees no process of root's at all.
 */
import assert from "node:assert/strict";
import { runCli } from "../harness/cli.ts";
import { WgLab } from "../harness/lab.ts";
import { withWrapper } from "../support/wrappers.ts";

/** What `nobody` sees of `wg set` command lines during `purge`. */
async function sample(hidepid: boolean, iface: string, purge: () => Promise<void>) {
  const mount = hidepid ? "mount -t proc -o hidepid=invisible proc /proc && " : "";
  const sampler = new Deno.Command("unshare", {
    args: [
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      `${mount}exec setpriv --reuid=65534 --regid=65534 --clear-groups sh -c '
        end=$(($(date +%s) + 20)); pids=0
        while [ "$(date +%s)" -lt "$end" ]; do
          for f in /proc/[0-9]*/cmdline; do
            pids=$((pids + 1))
            tr "\\0" " " <"$f" 2>/dev/null | grep "set ${iface} peer" | grep -o "peer [A-Za-z0-9+/=]*"
          done
          [ -e /tmp/wr-proc-stop-${iface} ] && break
        done
        echo "pids-read $pids"'`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    await new Promise((r) => setTimeout(r, 300)); // the sampler is reading
    await purge();
  } finally {
    await Deno.writeTextFile(`/tmp/wr-proc-stop-${iface}`, "");
  }
  const out = new TextDecoder().decode((await sampler.output()).stdout);
  await Deno.remove(`/tmp/wr-proc-stop-${iface}`);
  return {
    keys: [...new Set([...out.matchAll(/peer (\S+)/g)].map((m) => m[1]))],
    pidsRead: Number(out.match(/pids-read (\d+)/)?.[1] ?? 0),
  };
}

Deno.test("nobody reads purged public keys in /proc during a purge, and not with hidepid=invisible", async () => {
  const lab = await WgLab.start();
  try {
    const clients = [await lab.addClient({ psk: true }), await lab.addClient()];
    const keys = clients.map((c) => c.keys.publicKey);
    await withWrapper(
      `#!/bin/sh
# Not a fake: the real wg, its set held 1 s so that a sampler can see it.
[ "$1" = set ] && sleep 1
exec @WG@ "$@"
`,
      async (wg) => {
        for (const hidepid of [false, true]) {
          // After a purge a client re-handshakes within ~15 s (README: What a purge resets).
          for (const c of clients) await lab.pingUntilAnswered(c);
          const seen = await sample(hidepid, lab.iface, async () => {
            const r = await runCli(["run", "-i", lab.iface, "--wg", wg], { clockShift: 300 });
            assert.strictEqual(r.code, 0, r.log);
          });
          console.log(
            `hidepid=${hidepid ? "invisible" : "off"}: nobody read ${seen.pidsRead} command ` +
              `lines and saw ${seen.keys.length} purged public keys`,
          );
          assert.ok(seen.pidsRead > 0, "the sampler ran");
          if (hidepid) assert.deepStrictEqual(seen.keys, []);
          else assert.deepStrictEqual(seen.keys.sort(), [...keys].sort());
        }
      },
    );
  } finally {
    await lab.close();
  }
});
