/**
 * Faults during a purge, against real wireguard-go. After every fault, and
 * at most one further cycle, every peer that existed before must exist with
 * identical allowed-ips, preshared key and keepalive, and the exit status
 * must say what happened. Faults real `wg` cannot produce use wrappers named
 * FAKE; the others are caused for real. Each test prints a row of the fault
 * table (fault, runs, peers at risk, peers lost).
 */
import assert from "node:assert/strict";
import { CliProcess, runCli } from "../harness/cli.ts";
import { sh } from "../harness/sh.ts";
import { waitForFile, withWrapper } from "../support/wrappers.ts";
import { lost, staleLab } from "../support/stale_lab.ts";
import { KillableCli } from "../support/cgroup_kill.ts";
import type { LoadPeer } from "../harness/lab.ts";

const PEERS = 60;
// About 14 peers per `wg set` call, so 60 peers take 5 chunks.
const BUDGET = "4096";

function tableRow(
  fault: string,
  runs: number,
  atRisk: number | string,
  lostPeers: number | string,
): void {
  console.log(`| ${fault} | ${runs} | ${atRisk} | ${lostPeers} |`);
}

const FAIL_CHUNK = `#!/bin/bash
# FAKE wg for fault injection: on the chosen 'wg set' chunk it performs only
# that chunk's removals (every re-add is lost) and exits 1, like a wg that
# dies half-way. Every other call goes to the real wg unchanged.
if [ "$1" = set ]; then
  n=$(( $(cat @DIR@/calls 2>/dev/null || echo 0) + 1 )); echo "$n" > @DIR@/calls
  seen=$(cat @DIR@/seen 2>/dev/null || echo 0)
  here=0; for a in "$@"; do [ "$a" = remove ] && here=$((here + 1)); done
  echo $((seen + here)) > @DIR@/seen
  fail=0
  case "$FAULT_CHUNK" in
    first) [ "$n" -eq 1 ] && fail=1 ;;
    middle) [ "$n" -eq 3 ] && fail=1 ;;
    last) [ $((seen + here)) -eq "$FAULT_TOTAL" ] && fail=1 ;;
  esac
  if [ "$fail" -eq 1 ] && [ ! -e @DIR@/failed ]; then
    echo "$here" > @DIR@/failed
    iface=$2; shift 2; out=()
    while [ $# -gt 0 ]; do
      if [ "$1" = peer ] && [ "\${3:-}" = remove ]; then out+=("$1" "$2" "$3"); shift 3; else shift 2; fi
    done
    @WG@ set "$iface" "\${out[@]}"
    echo "wg: simulated failure" >&2
    exit 1
  fi
fi
exec @WG@ "$@"
`;

for (const chunk of ["first", "middle", "last"] as const) {
  Deno.test(`a wg set that dies in the ${chunk} chunk loses no peer (FAKE: chunk-failing wrapper)`, async () => {
    const { lab } = await staleLab(PEERS);
    try {
      const before = (await lab.dump()).peers;
      const { r, atRisk } = await withWrapper(FAIL_CHUNK, async (wg, dir) => {
        const r = await runCli([
          "run",
          "-i",
          lab.iface,
          "--wg",
          wg,
          "--argv-budget",
          BUDGET,
          "--json",
        ], {
          clockShift: 600,
          env: { FAULT_CHUNK: chunk, FAULT_TOTAL: String(PEERS) },
        });
        return { r, atRisk: Number(await Deno.readTextFile(`${dir}/failed`)) };
      });
      assert.strictEqual(r.code, 1, r.log);
      assert.match(r.log, /simulated failure; verifying every peer it touched/);
      const report = JSON.parse(r.stdout).interfaces[0];
      assert.strictEqual(
        report.repaired.length,
        atRisk,
        "every peer of the failed chunk was repaired",
      );
      assert.ok(report.repaired.every((x: { restored: boolean }) => x.restored));
      assert.deepStrictEqual(lost(before, (await lab.dump()).peers), []);
      // One further cycle purges what the failure left.
      const again = await runCli(["run", "-i", lab.iface], { clockShift: 600 });
      assert.strictEqual(again.code, 0, again.log);
      const after = (await lab.dump()).peers;
      assert.deepStrictEqual(lost(before, after), []);
      assert.ok(after.every((p) => p.endpoint === null));
      tableRow(`wg set dies in the ${chunk} chunk (FAKE)`, 1, atRisk, lost(before, after).length);
    } finally {
      await lab.close();
    }
  });
}

Deno.test("an interface deleted in the middle of a cycle ends the run with exit 1 and a clear message", async () => {
  const { lab } = await staleLab(PEERS);
  try {
    const r = await withWrapper(
      `#!/bin/bash
# Not a fake: before the first 'wg set' runs, the interface is really deleted
# (as an admin or netifd could); the real wg then fails on its own.
if [ "$1" = set ] && [ ! -e @DIR@/deleted ]; then
  touch @DIR@/deleted
  ip -n "$LAB_NS" link del "$2"
fi
exec @WG@ "$@"
`,
      (wg) =>
        runCli(["run", "-i", lab.iface, "--wg", wg], {
          clockShift: 600,
          env: { LAB_NS: lab.serverNs },
        }),
    );
    assert.strictEqual(r.code, 1);
    assert.match(r.log, new RegExp(`WireGuard interface ${lab.iface} does not exist`));
    assert.doesNotMatch(r.log, /internal error/);
    tableRow(
      "interface deleted mid-cycle (real)",
      1,
      PEERS,
      "n/a: the interface and its peers are gone",
    );
  } finally {
    await lab.close();
  }
});

Deno.test("a hanging wg set is stopped by --wg-timeout and nothing is lost (FAKE: hanging wrapper)", async () => {
  const { lab } = await staleLab(PEERS);
  try {
    const before = (await lab.dump()).peers;
    const r = await withWrapper(
      `#!/bin/bash
# FAKE wg for fault injection: the first 'wg set' hangs instead of running.
if [ "$1" = set ] && [ ! -e @DIR@/hung ]; then touch @DIR@/hung; exec sleep 60; fi
exec @WG@ "$@"
`,
      (wg) =>
        runCli(["run", "-i", lab.iface, "--wg", wg, "--wg-timeout", "1", "--argv-budget", BUDGET], {
          clockShift: 600,
        }),
    );
    assert.strictEqual(r.code, 1);
    assert.match(r.log, /wg set .* did not finish within 1 s \(--wg-timeout\)/);
    const after = (await lab.dump()).peers;
    assert.deepStrictEqual(lost(before, after), []);
    const again = await runCli(["run", "-i", lab.iface], { clockShift: 600 });
    assert.strictEqual(again.code, 0, again.log);
    assert.deepStrictEqual(lost(before, (await lab.dump()).peers), []);
    tableRow("wg set hangs (FAKE), stopped by --wg-timeout", 1, "one chunk", 0);
  } finally {
    await lab.close();
  }
});

for (const fault of ["full", "read-only"] as const) {
  Deno.test(`a ${fault} key directory stops the purge before any change`, async () => {
    const { lab } = await staleLab(PEERS);
    const mount = await Deno.makeTempDir({ prefix: "wr-tmpfs-" });
    try {
      // Real faults: a tmpfs that is full, or mounted read-only.
      await sh([
        "mount",
        "-t",
        "tmpfs",
        "-o",
        fault === "full" ? "size=8k,mode=0700" : "ro,mode=0700",
        "tmpfs",
        mount,
      ]);
      if (fault === "full") {
        await sh(["sh", "-c", `cat /dev/zero > ${mount}/filler 2>/dev/null; true`]);
      }
      const before = (await lab.dump()).peers;
      const r = await runCli(["run", "-i", lab.iface, "--key-dir", mount], { clockShift: 600 });
      assert.strictEqual(r.code, 1);
      assert.match(
        r.log,
        new RegExp(
          `cannot (create a private directory in|write a preshared-key file in|write the purge journal in) ${mount}.*nothing was changed`,
        ),
      );
      const after = (await lab.dump()).peers;
      assert.deepStrictEqual(
        after.map((p) => [p.publicKey, p.endpoint]).sort(),
        before.map((p) => [p.publicKey, p.endpoint]).sort(),
      );
      tableRow(`key directory ${fault} (real tmpfs)`, 1, 0, lost(before, after).length);
    } finally {
      await sh(["umount", mount], { allowFail: true });
      await Deno.remove(mount, { recursive: true });
      await lab.close();
    }
  });
}

Deno.test("a daemon killed with SIGKILL during apply loses no peer and the next start cleans up", async () => {
  const { lab } = await staleLab(PEERS);
  const keyParent = await Deno.makeTempDir({ prefix: "wr-kill-" });
  try {
    const before = (await lab.dump()).peers;
    await withWrapper(
      `#!/bin/bash
# Not a fake: the real wg, started 1 s late, so the test can kill the daemon
# while the call is under way.
if [ "$1" = set ]; then touch @DIR@/started; sleep 1; fi
exec @WG@ "$@"
`,
      async (wg, dir) => {
        const daemon = new CliProcess(
          ["daemon", "-i", lab.iface, "--wg", wg, "--interval", "1", "--key-dir", keyParent],
          // A fast monotonic clock: the second cycle, a second later, purges.
          { clockShift: 600, monotonicSpeed: 1000 },
        );
        await waitForFile(`${dir}/started`);
        assert.strictEqual((await daemon.stop("SIGKILL")).signal, "SIGKILL");
        // The wg call itself goes on and completes.
        await new Promise((r) => setTimeout(r, 1500));
      },
    );
    const orphans = [...Deno.readDirSync(keyParent)].map((e) => e.name);
    assert.strictEqual(orphans.length, 1, "SIGKILL skipped the cleanup");
    assert.deepStrictEqual(lost(before, (await lab.dump()).peers), []);
    // Started again: one cycle, and the orphaned key directory is removed.
    const again = await runCli(["run", "-i", lab.iface, "--key-dir", keyParent], {
      clockShift: 600,
    });
    assert.strictEqual(again.code, 0, again.log);
    assert.deepStrictEqual([...Deno.readDirSync(keyParent)], []);
    const after = (await lab.dump()).peers;
    assert.deepStrictEqual(lost(before, after), []);
    tableRow(
      "daemon SIGKILLed during apply, then started again (real)",
      1,
      PEERS,
      lost(before, after).length,
    );
  } finally {
    await lab.close();
    await Deno.remove(keyParent, { recursive: true });
  }
});

/** A key in the hex wireguard-go's control socket takes. */
function hex(key: string): string {
  return Array.from(atob(key), (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
}

/** Writes `text` to wireguard-go's control socket of `iface` and closes it, as a killed `wg` does. */
async function writeCut(iface: string, text: string): Promise<void> {
  const socket = await Deno.connect({
    transport: "unix",
    path: `/var/run/wireguard/${iface}.sock`,
  });
  try {
    await socket.write(new TextEncoder().encode(text));
    await socket.closeWrite();
    await new Response(socket.readable).text();
  } catch (error) {
    socket.close();
    throw error;
  }
}

Deno.test("a wg set cut mid-line by a kill (keepalive 25 left as 2, /32 as /3) is put back by the next start", async () => {
  // The purge is killed before its call starts; the test then writes to
  // wireguard-go's socket what that call's `wg`, killed mid-write, leaves:
  // the stream cut inside a number, whose last line wireguard-go applies.
  const { lab, peers } = await staleLab(6);
  const keyParent = await Deno.makeTempDir({ prefix: "wr-cut-" });
  try {
    const before = (await lab.dump()).peers;
    const args = ["run", "-i", lab.iface, "--key-dir", keyParent];
    await withWrapper(
      `#!/bin/bash
# Not a fake: the real wg, except that a 'wg set' waits to be killed first.
if [ "$1" = set ]; then touch @DIR@/started; exec sleep 600; fi
exec @WG@ "$@"
`,
      async (wg, dir) => {
        const run = await KillableCli.start([...args, "--wg", wg], { clockShift: 600 });
        await waitForFile(`${dir}/started`);
        assert.deepStrictEqual((await run.kill()).status.signal, "SIGKILL");
      },
    );
    const withKeepalive = peers.find((p) => p.keepalive === 25 && p.psk !== null)!;
    const plain = peers.find((p) => p.keepalive === null && p.psk === null)!;
    const head = (p: LoadPeer) => {
      const key = hex(p.keys.publicKey);
      const psk = p.psk === null ? "" : `preshared_key=${hex(p.psk)}\n`;
      return `set=1\npublic_key=${key}\nremove=true\npublic_key=${key}\n${psk}`;
    };
    await writeCut(lab.iface, `${head(withKeepalive)}persistent_keepalive_interval=2`);
    const ip = plain.allowedIps[0];
    assert.match(ip, /\/32$/);
    await writeCut(
      lab.iface,
      `${head(plain)}replace_allowed_ips=true\nallowed_ip=${ip.slice(0, -1)}`,
    );
    const cut = new Map((await lab.dump()).peers.map((p) => [p.publicKey, p]));
    assert.strictEqual(cut.get(withKeepalive.keys.publicKey)!.persistentKeepalive, 2);
    assert.match(cut.get(plain.keys.publicKey)!.allowedIps.join(","), /\/3$/);
    const again = await runCli(args, { clockShift: 600 });
    assert.strictEqual(again.code, 0, again.log);
    assert.match(again.log, /2 of 2 peers of the killed purge put back/);
    const after = (await lab.dump()).peers;
    assert.deepStrictEqual(lost(before, after), []);
    tableRow("wg set cut mid-line by a kill, then started again (real, cut written)", 1, 2, 0);
  } finally {
    await lab.close();
    await Deno.remove(keyParent, { recursive: true });
  }
});

Deno.test("a daemon sent SIGTERM during apply lets the wg call finish, starts no other, exits 0", async () => {
  const { lab } = await staleLab(PEERS);
  try {
    const before = (await lab.dump()).peers;
    const { status, stderr } = await withWrapper(
      `#!/bin/bash
# Not a fake: the real wg, started 1 s late, so the test can signal the
# daemon while the call is under way.
if [ "$1" = set ]; then touch @DIR@/started; sleep 1; fi
exec @WG@ "$@"
`,
      async (wg, dir) => {
        const daemon = new CliProcess(
          ["daemon", "-i", lab.iface, "--wg", wg, "--interval", "1"],
          // A fast monotonic clock: the second cycle, a second later, purges.
          { clockShift: 600, monotonicSpeed: 1000 },
        );
        await waitForFile(`${dir}/started`);
        const status = await daemon.stop("SIGTERM");
        return { status, stderr: daemon.log };
      },
    );
    assert.strictEqual(status.code, 0, stderr);
    const after = (await lab.dump()).peers;
    assert.deepStrictEqual(lost(before, after), []);
    // The call under way finished (its peers are purged); no other started.
    const purged = after.filter((p) => p.endpoint === null).length;
    assert.ok(purged > 0 && purged < PEERS, `${purged} purged`);
    assert.match(
      stderr,
      new RegExp(`stopping on request; ${PEERS - purged} stale peers left for the next cycle`),
    );
    assert.match(stderr, /daemon stopping on signal/);
    tableRow("daemon SIGTERMed during apply (real)", 1, purged, lost(before, after).length);
  } finally {
    await lab.close();
  }
});
