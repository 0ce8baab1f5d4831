/**
 * tests/lab/interrupt_test.ts on kernel WireGuard on the slow kernel (the VM
 * booted with `rcupdate.rcu_normal=1`, ~40 ms per removed peer, as on
 * PREEMPT_RT): `run` and every process it started are killed at once (a
 * cgroup kill) at random instants of a purge of 1,500 PSK peers that takes
 * about two minutes, each followed by one normal start
 * (tests/support/interrupt.ts). Run by scripts/dev.sh test in a slow-kernel
 * VM boot of its own; it fails on a kernel booted without that flag.
 */
import assert from "node:assert/strict";
import { WgLab } from "../harness/lab.ts";
import {
  handshakeFailures,
  type HandshakeOptions,
  interruptPeerSpecs,
  killAtRandomInstants,
} from "../support/interrupt.ts";

const PEERS = 1500;
const INSTANTS = 5;
// Handshakes are what costs in the emulated VM: about a minute and a half for
// 1,500 peers with two initiators, twice that with one.
const HANDSHAKES: HandshakeOptions = { initiators: 2, concurrency: 8 };

function assertSlowKernel(): void {
  assert.match(Deno.readTextFileSync("/proc/cmdline"), /\brcupdate\.rcu_normal=1\b/);
  assert.strictEqual(Deno.readTextFileSync("/sys/kernel/rcu_normal").trim(), "1");
}

/**
 * Tears the lab down with expedited grace periods: emptying 1,500 peers with
 * normal ones would take a minute on its own.
 */
async function closeFast(lab: WgLab): Promise<void> {
  Deno.writeTextFileSync("/sys/kernel/rcu_normal", "0");
  try {
    await lab.close();
  } finally {
    Deno.writeTextFileSync("/sys/kernel/rcu_normal", "1");
  }
}

Deno.test(`run SIGKILLed with all it started at ${INSTANTS} random instants of a ${PEERS}-peer purge on a slow kernel loses and changes no peer, and every peer handshakes after the next start`, async () => {
  assertSlowKernel();
  const started = performance.now();
  const lab = await WgLab.start({ impl: "kernel" });
  try {
    const peers = await lab.addLoadPeers(interruptPeerSpecs(PEERS));
    assert.deepStrictEqual(await handshakeFailures(lab, peers, HANDSHAKES), [], "every handshake");
    console.log(`set up in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    await killAtRandomInstants(lab, peers, {
      instants: INSTANTS,
      handshakes: HANDSHAKES,
      fault: "run and its wg killed at once (cgroup kill) mid-purge, then started once, " +
        "slow kernel (real)",
    });
  } finally {
    await closeFast(lab);
    console.log(`took ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
});
