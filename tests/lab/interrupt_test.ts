/**
 * `run` killed with SIGKILL, together with every process it started, at
 * random instants of a large purge on real wireguard-go, each followed by
 * one normal start (tests/support/interrupt.ts); and the cgroup kill that
 * does it (tests/support/cgroup_kill.ts), on a process tree with a child in
 * a session of its own. Prints a row of the fault table (fault, instants,
 * peers at risk at each, lost, changed, no handshake).
 */
import assert from "node:assert/strict";
import { WgLab } from "../harness/lab.ts";
import { KillGroup, type KillMechanism, names, waitUntil } from "../support/cgroup_kill.ts";
import {
  handshakeFailures,
  interruptPeerSpecs,
  killAtRandomInstants,
} from "../support/interrupt.ts";
import { waitForFile } from "../support/wrappers.ts";

const PEERS = 2000;
const INSTANTS = 20;

/** Fields of /proc/PID/stat after the command name; null once the process is gone or a zombie. */
function stat(pid: number): string[] | null {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" ? null : fields;
  } catch {
    return null;
  }
}

/** The two pids a shell wrote to `path`, once both are there. */
async function pidsIn(path: string): Promise<number[]> {
  await waitForFile(path);
  for (let i = 0; i < 100; i++) {
    const pids = Deno.readTextFileSync(path).trim().split(" ").filter((p) => p !== "");
    if (pids.length === 2) return pids.map(Number);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${path} holds no two pids`);
}

for (const mechanism of ["cgroup2", "freezer"] as const satisfies KillMechanism[]) {
  Deno.test(`KillGroup (${mechanism}) kills a process tree at once, a child in its own session too`, async () => {
    const group = await KillGroup.create(mechanism);
    const dir = await Deno.makeTempDir({ prefix: "wr-killgroup-" });
    try {
      // sh, its sleep, and a setsid sh (another session and process group) with its own sleep.
      const cmd = group.wrap([
        "sh",
        "-c",
        `sleep 300 & s=$!; setsid sh -c 'sleep 300 & echo $$ $! > ${dir}/setsid; wait' & ` +
        `echo $$ $s > ${dir}/top; wait`,
      ]);
      const child = new Deno.Command(cmd[0], { args: cmd.slice(1) }).spawn();
      const [top, sleeper] = await pidsIn(`${dir}/top`);
      const [leader, inner] = await pidsIn(`${dir}/setsid`);
      const all = [top, sleeper, leader, inner];
      // Until they exec, the forked children are still called sh.
      await waitUntil(
        async () => (await names([sleeper, inner])).every((name) => name === "sleep"),
        "the forked sleeps to exec",
        5_000,
      );
      assert.strictEqual(top, child.pid);
      assert.deepStrictEqual((await group.pids()).sort(), [...all].sort());
      // The setsid child leads its own session and group: `kill -- -PGID` of the top misses it.
      assert.strictEqual(stat(leader)![3], String(leader), "session of the setsid sh");
      assert.notStrictEqual(stat(leader)![2], stat(top)![2], "process groups differ");
      const killed = await group.killAll();
      assert.deepStrictEqual(killed.sort(), ["sh", "sh", "sleep", "sleep"]);
      assert.strictEqual((await child.status).signal, "SIGKILL");
      assert.deepStrictEqual(all.filter((pid) => stat(pid) !== null), [], "every process is gone");
      assert.deepStrictEqual(await group.pids(), []);
    } finally {
      await group.remove();
      await Deno.remove(dir, { recursive: true });
    }
    assert.ok(!(await Deno.lstat(group.path).then(() => true, () => false)), "cgroup removed");
  });
}

Deno.test(`run SIGKILLed with all it started at ${INSTANTS} random instants of a ${PEERS}-peer purge loses and changes no peer, and every peer handshakes after the next start`, async () => {
  const started = performance.now();
  const lab = await WgLab.start();
  try {
    const peers = await lab.addLoadPeers(interruptPeerSpecs(PEERS));
    assert.deepStrictEqual(await handshakeFailures(lab, peers), [], "every handshake completed");
    await killAtRandomInstants(lab, peers, {
      instants: INSTANTS,
      fault: "run and its wg killed at once (cgroup kill) mid-purge, then started once (real)",
    });
  } finally {
    await lab.close();
    console.log(`took ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
});
