/**
 * The systemd unit under real systemd: this file runs inside the test VM
 * booted with the host's systemd as PID 1 (scripts/vm/run_in_vm.sh --init
 * systemd), against kernel WireGuard. The unit from systemd/ is installed as
 * it ships, with a drop-in that only points it at the test's config and the
 * server's network namespace; the program is a stand-in for the compiled
 * binary (which needs a denort this network cannot download): Deno of the
 * same version running the bundle under the same runtime flags.
 *
 * It checks that a cycle purges stale peers under every hardening option
 * and deletes their connection-tracking flows with conntrack,
 * that `systemctl reload` sends SIGHUP, that `systemctl stop` ends the
 * daemon cleanly with no peer lost, and that `journalctl -p warning` shows
 * exactly the warnings and errors, at their priorities and without a time
 * stamp of ours.
 */
import assert from "node:assert/strict";
import { bundleTo } from "../../scripts/release/bundle.ts";
import { WgLab } from "../harness/lab.ts";
import { sh } from "../harness/sh.ts";
import { configOf } from "../harness/scenario.ts";
import { RUNTIME_FLAGS } from "../../scripts/release/runtime_flags.ts";
import { nft, TRACKING } from "../support/tracking.ts";

const ROOT_DIR = new URL("../../", import.meta.url).pathname;
const LIB = "/usr/local/lib/wg-reinstate";

async function journal(...args: string[]): Promise<Record<string, string>[]> {
  const out = await sh(["journalctl", "-u", "wg-reinstate", "-o", "json", "--no-pager", ...args]);
  return out.stdout.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

async function waitFor(what: string, check: () => Promise<boolean>, seconds = 90): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const show = async (property: string) =>
  (await sh(["systemctl", "show", "-P", property, "wg-reinstate"])).stdout.trim();

Deno.test("the systemd unit purges, reloads, stops cleanly and logs at the right priorities", async () => {
  assert.strictEqual((await Deno.readTextFile("/proc/1/comm")).trim(), "systemd");
  const lab = await WgLab.start({ impl: "kernel" });
  try {
    // The server's namespace tracks its flows, so a purge has some to delete with conntrack.
    await nft(lab.serverNs, TRACKING);
    const clients = [await lab.addClient({ psk: true }), await lab.addClient({ keepalive: 25 })];
    for (const c of clients) assert.ok(await lab.ping(c));
    const before = await lab.dump();

    // The stand-in binary: the same Deno and runtime flags as the compiled one.
    await Deno.mkdir(LIB, { recursive: true });
    await Deno.copyFile(Deno.execPath(), `${LIB}/deno`);
    await bundleTo(`${LIB}/bundle`);
    await Deno.writeTextFile(
      "/usr/local/bin/wg-reinstate",
      `#!/bin/sh\n# Stand-in for the compiled binary (test VM only).\n` +
        `DENO_DIR=/tmp/deno exec ${LIB}/deno run ${RUNTIME_FLAGS.join(" ")} ` +
        `${LIB}/bundle/main.js "$@"\n`,
      { mode: 0o755 },
    );
    await Deno.mkdir("/etc/wg-reinstate", { recursive: true });
    await Deno.writeTextFile(
      "/etc/wg-reinstate/config.json",
      JSON.stringify({
        interfaces: [lab.iface, "nosuch0"], // nosuch0: an error every cycle
        staleAfter: 5, // forced: a warning at start
        forceShortThreshold: true,
        interval: 2,
      }),
    );
    await Deno.copyFile(
      `${ROOT_DIR}systemd/wg-reinstate.service`,
      "/etc/systemd/system/wg-reinstate.service",
    );
    await Deno.mkdir("/etc/systemd/system/wg-reinstate.service.d", { recursive: true });
    await Deno.writeTextFile(
      "/etc/systemd/system/wg-reinstate.service.d/test.conf",
      "[Service]\nExecStart=\n" +
        "ExecStart=/usr/local/bin/wg-reinstate daemon --config /etc/wg-reinstate/config.json\n" +
        `NetworkNamespacePath=/run/netns/${lab.serverNs}\n`,
    );
    await sh(["systemctl", "daemon-reload"]);
    await sh(["systemctl", "start", "wg-reinstate"]);

    await waitFor(
      "the stale endpoints to be purged",
      async () => (await lab.dump()).peers.every((p) => p.endpoint === null),
    );
    const pid = await show("MainPID");

    await sh(["systemctl", "reload", "wg-reinstate"]);
    await waitFor(
      "the reload",
      async () => (await journal()).some((r) => /settings reloaded/.test(r.MESSAGE)),
    );
    assert.strictEqual(await show("MainPID"), pid, "reload restarted the daemon");

    await sh(["systemctl", "stop", "wg-reinstate"]);
    assert.strictEqual(await show("ActiveState"), "inactive");
    assert.strictEqual(await show("Result"), "success");
    assert.strictEqual(await show("ExecMainStatus"), "0");

    const after = await lab.dump();
    // By key: a purge re-adds its peers in random order, and the kernel lists them so.
    const byKey = (peers: typeof after.peers) =>
      peers.map(configOf).sort((x, y) => x.publicKey < y.publicKey ? -1 : 1);
    assert.deepStrictEqual(byKey(after.peers), byKey(before.peers));

    const all = await journal();
    const ours = all.filter((r) => r._PID === pid);
    assert.ok(ours.some((r) => /\[INF\] .* [1-9]\d* purged \(stale=/.test(r.MESSAGE)));
    assert.ok(!ours.some((r) => /purged peer|idle/.test(r.MESSAGE)), "no peer named at info");
    // conntrack runs under the unit's sandbox (a failure would be a warning, checked below).
    assert.ok(
      ours.some((r) => /\[INF\] .*connection-tracking flows of .* deleted: [1-9]/.test(r.MESSAGE)),
      "conntrack deleted the purged clients' flows",
    );
    assert.ok(ours.some((r) => /daemon stopping on signal/.test(r.MESSAGE)));
    const level = (m: string) => m.match(/^\[(DBG|INF|WRN|ERR)\] /)?.[1];
    for (const r of ours) {
      assert.ok(level(r.MESSAGE) !== undefined, `no time stamp of ours: ${r.MESSAGE}`);
      const expected = { DBG: "7", INF: "6", WRN: "4", ERR: "3" }[level(r.MESSAGE)!];
      assert.strictEqual(r.PRIORITY, expected, r.MESSAGE);
    }
    // journalctl -p warning: exactly the warnings and errors.
    const warnings = (await journal("-p", "warning")).filter((r) => r._PID === pid);
    assert.deepStrictEqual(
      warnings.map((r) => r.MESSAGE),
      ours.filter((r) => /^\[(WRN|ERR)\]/.test(r.MESSAGE)).map((r) => r.MESSAGE),
    );
    assert.ok(warnings.some((r) => /^\[WRN\] .*stale-after is 5 s/.test(r.MESSAGE)));
    assert.ok(warnings.some((r) => /^\[ERR\] .*nosuch0 does not exist/.test(r.MESSAGE)));
    assert.ok(!warnings.some((r) => /^\[INF\]/.test(r.MESSAGE)));
    // The only errors are the missing interface's: everything else worked under the hardening.
    const errors = warnings.filter((r) => /^\[ERR\]/.test(r.MESSAGE));
    assert.deepStrictEqual(errors.filter((r) => !/nosuch0 does not exist/.test(r.MESSAGE)), []);
    // The status file was written under the unit's sandbox.
    const status = JSON.parse(await Deno.readTextFile("/run/wg-reinstate/status.json"));
    assert.ok(status.totals.purged[lab.iface] >= 2, JSON.stringify(status.totals));
    // The sandbox still lets it read the uptime, by which the counters restart.
    const uptime = Number((await Deno.readTextFile("/proc/uptime")).split(" ")[0]);
    assert.ok(status.uptime > 0 && status.uptime <= uptime, `${status.uptime} of ${uptime}`);
    const text = await sh(["journalctl", "-u", "wg-reinstate", "-p", "warning", "--no-pager"]);
    console.log(`journalctl -p warning -u wg-reinstate:\n${text.stdout.trim()}`);
  } catch (error) {
    const log = await sh(["journalctl", "-u", "wg-reinstate", "--no-pager", "-n", "40"], {
      allowFail: true,
    });
    console.log(`journal of the unit:\n${log.stdout}${log.stderr}`);
    throw error;
  } finally {
    await sh(["systemctl", "stop", "wg-reinstate"], { allowFail: true });
    await lab.close();
  }
});
