/**
 * The real `wg` runner (`WgCommand`) against FAKE `wg` scripts: each call in
 * a session of its own, bounded for real (its whole process group ended at
 * its limit, its pipes given up once it is gone, its output capped), a
 * result after the limit counted as a failure, interface names checked,
 * and nothing left behind per construction or per call.
 */
import assert from "node:assert/strict";
import { WgError } from "../../src/common/errors.ts";
import {
  AFTER_STOP_CALL_MS,
  DETAIL_MAX_CHARS,
  KILL_GRACE_MS,
  PIPE_GRACE_MS,
  showPeers,
  STOP_BUDGET_MS,
  StopRequest,
  WgCommand,
} from "../../src/wg/command.ts";
import { formatInterfaceDump, type WgPeer } from "../../src/wg/dump.ts";
import { keyN, peer } from "../support/peers.ts";
import { withWrapper } from "../support/wrappers.ts";
import { alive } from "../support/proc.ts";

/** The process group and session of a process, from /proc. */
function groupOf(pid: number | "self"): { pgrp: number; session: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { pgrp: Number(fields[2]), session: Number(fields[3]) };
}

/** The pids a FAKE wrote to `dir/pids`, one a line. */
async function pidsIn(dir: string): Promise<number[]> {
  const text = await Deno.readTextFile(`${dir}/pids`).catch(() => "");
  return text.split("\n").filter((l) => l !== "").map(Number);
}

/** Ends, by pid, whatever of `pids` is still running: a failed test leaves nothing behind. */
function killLeftovers(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      if (alive(pid)) Deno.kill(pid, "SIGKILL");
    } catch { /* gone meanwhile */ }
  }
}

/** Waits until none of `pids` is alive, or `ms` have passed; returns those still alive. */
async function aliveAfter(pids: readonly number[], ms: number): Promise<number[]> {
  const deadline = performance.now() + ms;
  while (pids.some(alive) && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return pids.filter(alive);
}

/** Runs `fn`, which must reject with a WgError; returns it and how long it took. */
async function failure(fn: () => Promise<unknown>): Promise<{ error: WgError; ms: number }> {
  const started = performance.now();
  try {
    await fn();
  } catch (error) {
    assert.ok(error instanceof WgError, String(error));
    return { error, ms: performance.now() - started };
  }
  assert.fail("no error");
}

const PEERS = [1, 2, 3].map((i) => peer({ publicKey: keyN(i) }));

Deno.test("WgCommand runs each wg in a session and process group of its own (FAKE: wg reports its group)", async () => {
  await withWrapper(
    `#!/bin/sh
# FAKE wg: reports its process group and session as the kernel sees them.
cut -d' ' -f1,5,6 /proc/$$/stat > @DIR@/group
echo wg0
`,
    async (wgPath, dir) => {
      await new WgCommand({ wgPath, timeoutMs: 5000 }).interfaces();
      const [pid, pgrp, session] = (await Deno.readTextFile(`${dir}/group`)).trim().split(" ")
        .map(Number);
      const ours = groupOf("self");
      assert.strictEqual(pgrp, pid, "its own process group: Ctrl-C to ours does not reach it");
      assert.strictEqual(session, pid, "its own session: a terminal's SIGHUP does not reach it");
      assert.notStrictEqual(pgrp, ours.pgrp);
      assert.notStrictEqual(session, ours.session);
    },
  );
});

Deno.test("WgCommand ends the whole process group of a wg past its limit (FAKE: hanging wrappers)", async (t) => {
  const cases: [string, string, number][] = [
    [
      "a wrapper that runs wg without exec, a background child holding the pipes",
      `sleep 600 & echo $! >> @DIR@/pids
sleep 600 & echo $! >> @DIR@/pids; wait`,
      1000,
    ],
    [
      "a wrapper that ignores SIGTERM, its children too",
      `trap '' TERM
sleep 600 & echo $! >> @DIR@/pids
sleep 600 & echo $! >> @DIR@/pids; wait`,
      1000 + KILL_GRACE_MS,
    ],
  ];
  for (const [name, body, expectedMs] of cases) {
    await t.step(name, async () => {
      await withWrapper(
        `#!/bin/bash
# FAKE wg for fault injection: never answers.
echo $$ >> @DIR@/pids
${body}
`,
        async (wgPath, dir) => {
          let pids: number[] = [];
          try {
            const wg = new WgCommand({ wgPath, timeoutMs: 1000, timeoutSetting: "--wg-timeout" });
            const { error, ms } = await failure(() => wg.show("all"));
            pids = await pidsIn(dir);
            assert.strictEqual(error.kind, "timeout");
            assert.strictEqual(
              error.message,
              "wg show all did not finish within 1 s (--wg-timeout)",
            );
            assert.strictEqual(pids.length, 3, "the wrapper and its two sleeps");
            assert.deepStrictEqual(await aliveAfter(pids, 500), [], "the whole group is gone");
            assert.ok(ms >= expectedMs - 50, `ended after ${ms.toFixed(0)} ms`);
            assert.ok(ms < expectedMs + 1500, `ended after ${ms.toFixed(0)} ms`);
          } finally {
            killLeftovers(pids.length > 0 ? pids : await pidsIn(dir));
          }
        },
      );
    });
  }
});

Deno.test("WgCommand counts a wg that exits 0 after its limit fired as timed out (FAKE: exits 0 on SIGTERM)", async () => {
  await withWrapper(
    `#!/bin/bash
# FAKE wg for fault injection: hangs, and exits 0 when told to stop.
trap 'exit 0' TERM
sleep 600 & echo $! >> @DIR@/pids
wait
`,
    async (wgPath, dir) => {
      try {
        const wg = new WgCommand({ wgPath, timeoutMs: 500 });
        const result = await wg.replacePeers("wg0", PEERS);
        assert.ok(result.failure instanceof WgError);
        assert.strictEqual(result.failure.kind, "timeout");
        assert.match(result.failure.message, /^wg set wg0 did not finish within 0\.5 s/);
      } finally {
        killLeftovers(await pidsIn(dir));
      }
    },
  );
});

Deno.test("WgCommand stops waiting for pipes held by a process that left the call's group (FAKE: setsid grandchild)", async (t) => {
  const fake = `#!/bin/bash
# FAKE wg for fault injection: answers and exits, but leaves a process in a
# session of its own that holds stdout and stderr open.
setsid sleep 600 & echo $! >> @DIR@/pids
[ "$1" = show ] && echo wg0
exit 0
`;
  await t.step("wg show interfaces: its output may not be whole, so it is refused", async () => {
    await withWrapper(fake, async (wgPath, dir) => {
      try {
        const { error, ms } = await failure(() =>
          new WgCommand({ wgPath, timeoutMs: 10_000 }).interfaces()
        );
        assert.strictEqual(error.kind, "unexpected-output");
        assert.match(error.message, /did not end when wg exited/);
        assert.ok(ms < PIPE_GRACE_MS + 1500, `returned after ${ms.toFixed(0)} ms`);
      } finally {
        killLeftovers(await pidsIn(dir));
      }
    });
  });
  await t.step("wg set: it exited 0, and its output is not needed", async () => {
    await withWrapper(fake, async (wgPath, dir) => {
      try {
        const started = performance.now();
        const result = await new WgCommand({ wgPath, timeoutMs: 10_000 }).replacePeers(
          "wg0",
          PEERS,
        );
        const ms = performance.now() - started;
        assert.strictEqual(result.failure, null);
        assert.ok(ms < PIPE_GRACE_MS + 1500, `returned after ${ms.toFixed(0)} ms`);
      } finally {
        killLeftovers(await pidsIn(dir));
      }
    });
  });
});

Deno.test("WgCommand does not hold a flood of stderr and quotes at most 512 characters of it (FAKE: 30 MB of stderr)", async (t) => {
  const psk = keyN(7, 7);
  const flood = 30_000_000;
  const cases: [string, string][] = [
    ["one 30 MB line", `head -c ${flood} /dev/zero | tr '\\0' x >&2`],
    ["30 MB of short lines", `yes 'wg: something is wrong' | head -c ${flood} >&2`],
    [
      "a key first, then 30 MB",
      `printf 'Key is not the correct length or format: %s\\n' '${
        psk.slice(0, 43)
      }' >&2; head -c ${flood} /dev/zero | tr '\\0' x >&2`,
    ],
  ];
  for (const [name, script] of cases) {
    await t.step(name, async () => {
      await withWrapper(
        `#!/bin/bash
# FAKE wg for fault injection: fails with a flood of error output.
${script}
exit 1
`,
        async (wgPath) => {
          const before = Deno.memoryUsage();
          const { error } = await failure(() =>
            new WgCommand({ wgPath, timeoutMs: 20_000 }).interfaces()
          );
          const after = Deno.memoryUsage();
          assert.strictEqual(error.kind, "failed");
          assert.ok(error.message.startsWith("wg show interfaces failed: "), error.message);
          assert.ok(!error.message.includes("\n"), "one line");
          assert.ok(
            error.message.length < DETAIL_MAX_CHARS + 100,
            `${error.message.length} characters`,
          );
          assert.ok(!error.message.includes(psk.slice(8, 20)), error.message);
          // Holding the flood would grow the heap by all of it. Read chunks that were
          // dropped leave a few MB of garbage until the next collection (5.5 MB seen
          // under a loaded CI), so the bound is a third of the flood, not the cap.
          const grown = after.external + after.heapUsed - before.external - before.heapUsed;
          assert.ok(grown < flood / 3, `grew ${grown} bytes`);
        },
      );
    });
  }
});

/** The dump of an interface wg0 holding `peers`. */
const wg0Dump = (peers: WgPeer[]) =>
  formatInterfaceDump(
    { name: "wg0", publicKey: keyN(0, 1), listenPort: 51820, fwmark: null, peers },
    keyN(0, 3),
  );

/** A FAKE wg that prints the dump written to its directory's `dump`. */
const CAT_DUMP = `#!/bin/sh
# FAKE wg: prints a prepared dump and exits at once.
exec cat @DIR@/dump
`;

Deno.test("WgCommand keeps the output of wg show whole, a 12 MB dump included (FAKE: prints a dump)", async () => {
  const count = 100_000;
  const dump = wg0Dump(Array.from({ length: count }, (_, i) =>
    peer({
      publicKey: keyN(i),
      presharedKey: keyN(i, 2),
      allowedIps: ["10.0.0.2/32", "fd00::2/128"],
      latestHandshake: 1_700_000_000,
    })));
  assert.ok(dump.length > 12_000_000, `${dump.length} bytes`);
  await withWrapper(
    CAT_DUMP,
    async (wgPath, dir) => {
      await Deno.writeTextFile(`${dir}/dump`, dump);
      const [iface] = await new WgCommand({ wgPath, timeoutMs: 30_000 }).show(["wg0"]);
      assert.strictEqual(iface.peers.length, count);
      assert.strictEqual(iface.peers.at(-1)!.publicKey, keyN(count - 1));
    },
  );
});

Deno.test("WgCommand.scan hands on each peer while wg still prints, lines cut across reads included (FAKE: prints in pieces)", async () => {
  const peers = Array.from(
    { length: 3 },
    (_, i) =>
      peer({ publicKey: keyN(i), presharedKey: keyN(i, 2), latestHandshake: 1_700_000_000 + i }),
  );
  const dump = wg0Dump(peers);
  // Cut inside the second peer's line; the last line has no newline.
  const cut = dump.indexOf("\n", dump.indexOf("\n") + 1) + 20;
  await withWrapper(
    `#!/bin/sh
# FAKE wg: prints the interface, the first peer and part of the second, then
# waits until the reader has seen the first peer before printing the rest.
cat @DIR@/first
while [ ! -e @DIR@/seen ]; do sleep 0.05; done
cat @DIR@/rest
`,
    async (wgPath, dir) => {
      await Deno.writeTextFile(`${dir}/first`, dump.slice(0, cut));
      await Deno.writeTextFile(`${dir}/rest`, dump.slice(cut).trimEnd());
      const seen: string[] = [];
      const heads: string[] = [];
      await new WgCommand({ wgPath, timeoutMs: 10_000 }).scan(["wg0"], {
        iface: (head) => void heads.push(head.name),
        peer: (p) => {
          seen.push(p.publicKey);
          if (seen.length === 1) Deno.writeTextFileSync(`${dir}/seen`, "");
        },
      });
      assert.deepStrictEqual(heads, ["wg0"]);
      assert.deepStrictEqual(seen, peers.map((p) => p.publicKey));
    },
  );
});

Deno.test("WgCommand.scan stops handing on lines at the visitor's error and throws it once wg is done (FAKE: prints a dump)", async () => {
  const peers = Array.from({ length: 5 }, (_, i) => peer({ publicKey: keyN(i) }));
  const dump = wg0Dump(peers);
  await withWrapper(
    `#!/bin/sh
# FAKE wg: prints a prepared dump, then a marker that it finished.
cat @DIR@/dump
touch @DIR@/finished
`,
    async (wgPath, dir) => {
      await Deno.writeTextFile(`${dir}/dump`, dump);
      let visited = 0;
      const refused = new RangeError("no more");
      await assert.rejects(
        new WgCommand({ wgPath, timeoutMs: 10_000 }).scan(["wg0"], {
          iface: () => {},
          peer: () => {
            if (++visited === 2) throw refused;
          },
        }),
        (error) => error === refused,
      );
      assert.strictEqual(visited, 2);
      assert.ok(
        await Deno.stat(`${dir}/finished`).then(() => true, () => false),
        "wg ran to its end",
      );
    },
  );
});

Deno.test("WgCommand.scan reads what wg left in the pipe, however long its lines take to handle (FAKE: prints a dump and exits)", async () => {
  const peers = Array.from({ length: 20 }, (_, i) => peer({ publicKey: keyN(i) }));
  const dump = wg0Dump(peers);
  await withWrapper(
    CAT_DUMP,
    async (wgPath, dir) => {
      await Deno.writeTextFile(`${dir}/dump`, dump);
      let seen = 0;
      await new WgCommand({ wgPath, timeoutMs: 10_000 }).scan(["wg0"], {
        // Longer than the pipe grace, as loading a policy may take on a slow machine.
        iface: () => new Promise((r) => setTimeout(r, PIPE_GRACE_MS * 3)),
        peer: () => void seen++,
      });
      assert.strictEqual(seen, peers.length);
    },
  );
});

Deno.test("showPeers keeps only the peers asked for, from one read (FAKE: prints a dump)", async () => {
  const peers = Array.from({ length: 50 }, (_, i) => peer({ publicKey: keyN(i) }));
  const dump = wg0Dump(peers);
  await withWrapper(
    CAT_DUMP,
    async (wgPath, dir) => {
      await Deno.writeTextFile(`${dir}/dump`, dump);
      const wanted = new Set([keyN(3), keyN(40), keyN(99)]);
      const read = await showPeers(new WgCommand({ wgPath, timeoutMs: 10_000 }), "wg0", wanted);
      assert.deepStrictEqual(read.peers.map((p) => p.publicKey), [keyN(3), keyN(40)]);
      assert.strictEqual(read.publicKey, keyN(0, 1));
    },
  );
});

Deno.test("WgCommand refuses an interface name that user input could not hold, without echoing it (FAKE)", async (t) => {
  const cases = ["../victim/data", "-wg0", "a".repeat(16), "wg0/../x", "wg\u00e9"];
  for (const name of cases) {
    await t.step(JSON.stringify(name), async () => {
      await withWrapper(
        `#!/bin/sh
# FAKE wg: lists a good interface and a bad one.
case "$1 $2" in
  "show interfaces") printf 'wg0 %s\\n' '${name}' ;;
  "show all") printf '%s\\t(none)\\t(none)\\t51820\\toff\\n' '${name}' ;;
esac
`,
        async (wgPath) => {
          const wg = new WgCommand({ wgPath, timeoutMs: 5000 });
          for (const call of [() => wg.interfaces(), () => wg.show("all")]) {
            const { error } = await failure(call);
            assert.strictEqual(error.kind, "unexpected-output");
            assert.ok(!error.message.includes(name), error.message);
            assert.ok(!error.message.includes("\n"), error.message);
          }
        },
      );
    });
  }
});

Deno.test("WgCommand ends a call still running STOP_BUDGET_MS after the stop request (FAKE: hanging wrapper)", async (t) => {
  const fake = `#!/bin/bash
# FAKE wg for fault injection: never answers.
echo $$ >> @DIR@/pids
sleep 600 & echo $! >> @DIR@/pids; wait
`;
  // A stop that came almost STOP_BUDGET_MS ago: half a second of it is left.
  const almostSpent = () => new StopRequest(performance.now() - STOP_BUDGET_MS + 500);
  const cases: [string, (stop: AbortController) => void, RegExp, number][] = [
    ["the stop came before the call", (c) => c.abort(almostSpent()), /still running 15 s/, 500],
    [
      "the stop comes during the call",
      (c) => {
        setTimeout(() => c.abort(almostSpent()), 200);
      },
      /still running 15 s/,
      700,
    ],
    [
      "the budget was spent before the call: it gets AFTER_STOP_CALL_MS",
      (c) => c.abort(new StopRequest(performance.now() - STOP_BUDGET_MS - 1)),
      /did not finish within 3 s/,
      AFTER_STOP_CALL_MS,
    ],
  ];
  for (const [name, stopIt, message, expectedMs] of cases) {
    await t.step(name, async () => {
      await withWrapper(fake, async (wgPath, dir) => {
        try {
          const stop = new AbortController();
          const wg = new WgCommand({ wgPath, timeoutMs: 60_000, stop: stop.signal });
          stopIt(stop);
          const started = performance.now();
          const result = await wg.replacePeers("wg0", PEERS);
          const ms = performance.now() - started;
          assert.ok(result.failure instanceof WgError);
          assert.strictEqual(result.failure.kind, "timeout");
          assert.match(result.failure.message, message);
          assert.ok(ms >= expectedMs - 100 && ms < expectedMs + 1500, `${ms.toFixed(0)} ms`);
          assert.deepStrictEqual(await aliveAfter(await pidsIn(dir), 500), []);
        } finally {
          killLeftovers(await pidsIn(dir));
        }
      });
    });
  }
});

Deno.test("WgCommand adds no listener per construction and leaves no listener or timer per call (FAKE)", async () => {
  const stop = new AbortController();
  let listeners = 0;
  const signal = stop.signal;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<typeof add>) => {
    listeners++;
    add(...args);
  }) as typeof add;
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    listeners--;
    remove(...args);
  }) as typeof remove;
  const live = new Set<unknown>();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    const id = realSet(() => {
      live.delete(id);
      fn();
    }, ms);
    live.add(id);
    return id;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((id: ReturnType<typeof setTimeout>) => {
    live.delete(id);
    realClear(id);
  }) as typeof clearTimeout;
  try {
    await withWrapper(
      `#!/bin/sh
# FAKE wg: "show interfaces" answers, "set" fails, anything else hangs.
case "$1 $2" in
  "show interfaces") echo wg0 ;;
  "set wg0") echo "wg: no" >&2; exit 1 ;;
  *) exec sleep 600 ;;
esac
`,
      async (wgPath) => {
        for (let i = 0; i < 1000; i++) new WgCommand({ wgPath, timeoutMs: 300, stop: signal });
        assert.strictEqual(listeners, 0, "constructions");
        const wg = new WgCommand({ wgPath, timeoutMs: 300, stop: signal });
        await wg.interfaces();
        assert.deepStrictEqual([listeners, live.size], [0, 0], "a call that succeeded");
        await wg.replacePeers("wg0", PEERS);
        assert.deepStrictEqual([listeners, live.size], [0, 0], "a call that failed");
        await wg.show("all").catch(() => {});
        assert.deepStrictEqual([listeners, live.size], [0, 0], "a call that timed out");
      },
    );
  } finally {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  }
});
