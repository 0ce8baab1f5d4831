/**
 * wg/conntrack.ts against FAKE `conntrack` scripts: flows matched by port
 * only (no address in any argv), both families and both sides of each
 * port; a missing binary, a call that matched nothing, a real failure and a
 * hang, each with the outcome it comes to; the counts for `status`; the log
 * and status lines made from them; and the permission that lets the
 * released program run `conntrack`, as the docs list it.
 */
import assert from "node:assert/strict";
import {
  CONNTRACK_PATHS,
  conntrackArgs,
  countFlows,
  countProcFlows,
  type FlowCount,
  type FlowOutcome,
  flowStatusLine,
  forgetFlows,
  redactAddresses,
} from "../../src/wg/conntrack.ts";
import { KILL_GRACE_MS } from "../../src/wg/command.ts";
import { flowLines } from "../../src/purge/report.ts";
import { PERMISSION_FLAGS, PERMISSIONS } from "../../scripts/release/runtime_flags.ts";
import { renderLines } from "../support/log_capture.ts";
import { alive } from "../support/proc.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FLOWS_MAIN = `${ROOT}tests/support/flows_main.ts`;

/** A flow line as conntrack prints it on stdout: addresses the tool must drop. */
const FLOW_LINE =
  "udp      17 29 src=192.0.2.7 dst=198.51.100.1 sport=40001 dport=51820 [UNREPLIED] " +
  "src=198.51.100.1 dst=192.0.2.7 sport=51820 dport=40001 mark=0 use=1";
const BANNER = "conntrack v1.4.7 (conntrack-tools):";

/** The argv of each call a FAKE received, one array per call. */
async function callsIn(dir: string): Promise<string[][]> {
  const text = await Deno.readTextFile(`${dir}/calls`).catch(() => "");
  return text.split("\n").filter((l) => l !== "").map((l) => l.split(" "));
}

/**
 * Writes a FAKE `conntrack` that records its argv in `dir/calls`, then runs
 * `body` (sh; `@DIR@` is the directory), and calls `fn` with its path.
 */
async function withFakeConntrack<T>(
  body: string,
  fn: (path: string, dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "wr-conntrack-" });
  try {
    const path = `${dir}/conntrack`;
    const script = `#!/bin/sh\necho "$*" >> ${dir}/calls\n${body.replaceAll("@DIR@", dir)}\n`;
    await Deno.writeTextFile(path, script, { mode: 0o755 });
    return await fn(path, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("conntrackArgs matches by protocol, family and port, and holds nothing else", () => {
  assert.deepStrictEqual(conntrackArgs("delete", "ipv6", "src", 51820), [
    "-D",
    "-f",
    "ipv6",
    "-p",
    "udp",
    "--orig-port-src",
    "51820",
  ]);
  assert.deepStrictEqual(conntrackArgs("list", "ipv4", "dst", 1).slice(0, 1), ["-L"]);
});

Deno.test("forgetFlows deletes both families and both sides of each port, by port only (FAKE conntrack)", async () => {
  const body = `echo "${FLOW_LINE}"\necho "${BANNER} 2 flow entries have been deleted." >&2`;
  await withFakeConntrack(body, async (fake, dir) => {
    const outcome = await forgetFlows([51820, 51820, 51821], { programs: [fake] });
    assert.deepStrictEqual(outcome, {
      result: "done",
      ports: [51820, 51821],
      deleted: 16,
      error: null,
    });
    const calls = await callsIn(dir);
    assert.deepStrictEqual(
      calls.map((argv) => argv.join(" ")),
      [51820, 51821].flatMap((port) =>
        ["ipv4", "ipv6"].flatMap((family) =>
          ["dst", "src"].map((side) => `-D -f ${family} -p udp --orig-port-${side} ${port}`)
        )
      ),
    );
    // What conntrack printed of the flows went nowhere.
    assert.doesNotMatch(JSON.stringify(outcome), /192\.0\.2|198\.51/);
  });
});

Deno.test("forgetFlows comes to one outcome per branch (FAKE conntrack)", async (t) => {
  const cases: [string, string, Partial<FlowOutcome> & { calls: number }][] = [
    [
      "exit 1 with 0 flow entries: nothing matched, no error",
      `echo "${BANNER} 0 flow entries have been deleted." >&2; exit 1`,
      { result: "done", deleted: 0, error: null, calls: 4 },
    ],
    [
      "exit 0 with 1 flow entry",
      `echo "${BANNER} 1 flow entries have been deleted." >&2`,
      { result: "done", deleted: 4, error: null, calls: 4 },
    ],
    [
      "a real failure: reported, and the other calls still made",
      `echo "${BANNER} Operation failed: sorry, you must be root or get CAP_NET_ADMIN capability to do this" >&2; exit 1`,
      {
        result: "failed",
        deleted: 0,
        error:
          "conntrack failed: Operation failed: sorry, you must be root or get CAP_NET_ADMIN capability to do this",
        calls: 4,
      },
    ],
    [
      "a failure after some calls deleted flows",
      `case "$*" in *ipv6*) echo "${BANNER} Operation failed: invalid parameters" >&2; exit 1;; ` +
      `esac; echo "${BANNER} 3 flow entries have been deleted." >&2`,
      {
        result: "failed",
        deleted: 6,
        error: "conntrack failed: Operation failed: invalid parameters",
        calls: 4,
      },
    ],
    [
      "a failure that names addresses: none reaches the error",
      `echo "${BANNER} Operation failed on src=192.0.2.7 dst=2001:db8::7 sport=40001" >&2; exit 1`,
      {
        result: "failed",
        deleted: 0,
        error: "conntrack failed: Operation failed on src=(address) dst=(address) sport=40001",
        calls: 4,
      },
    ],
    [
      "a failure without a word",
      "exit 2",
      { result: "failed", deleted: 0, error: "conntrack failed: exit code 2", calls: 4 },
    ],
  ];
  for (const [name, body, expected] of cases) {
    await t.step(name, async () => {
      await withFakeConntrack(body, async (fake, dir) => {
        const { calls, ...outcome } = expected;
        assert.deepStrictEqual(await forgetFlows([51820], { programs: [fake] }), {
          ports: [51820],
          ...outcome,
        });
        assert.strictEqual((await callsIn(dir)).length, calls);
      });
    });
  }
  await t.step("a missing binary: no error, nothing deleted", async () => {
    const programs = ["/nonexistent/conntrack", "/nonexistent/sbin/conntrack"];
    assert.deepStrictEqual(await forgetFlows([51820], { programs }), {
      result: "missing",
      ports: [51820],
      deleted: 0,
      error: null,
    });
  });
  await t.step("the first program that exists is used", async () => {
    await withFakeConntrack(
      `echo "${BANNER} 1 flow entries have been deleted." >&2`,
      async (fake) => {
        const outcome = await forgetFlows([51820], { programs: ["/nonexistent/conntrack", fake] });
        assert.strictEqual(outcome.deleted, 4);
      },
    );
  });
  await t.step("no bound port: nothing run", async () => {
    await withFakeConntrack("exit 0", async (fake, dir) => {
      const outcome = await forgetFlows([0, 70000, 1.5], { programs: [fake] });
      assert.deepStrictEqual(outcome, { result: "done", ports: [], deleted: 0, error: null });
      assert.deepStrictEqual(await callsIn(dir), []);
    });
  });
});

Deno.test("forgetFlows ends a hung conntrack and its group at the time limit, and makes no other call (FAKE conntrack)", async () => {
  // The FAKE and a child that holds its pipes both sleep; their pids go to a file.
  const body = "sleep 60 & echo $! >> @DIR@/pids; echo $$ >> @DIR@/pids; wait";
  await withFakeConntrack(body, async (fake, dir) => {
    const started = performance.now();
    const outcome = await forgetFlows([51820, 51821], { programs: [fake], timeoutMs: 300 });
    const ms = performance.now() - started;
    assert.deepStrictEqual(outcome, {
      result: "failed",
      ports: [51820, 51821],
      deleted: 0,
      error: "conntrack did not finish within 0.3 s; ended",
    });
    assert.strictEqual((await callsIn(dir)).length, 1, "no call after a timeout");
    assert.ok(ms < 300 + 2 * KILL_GRACE_MS + 1000, `${Math.round(ms)} ms`);
    const pids = (await Deno.readTextFile(`${dir}/pids`)).trim().split("\n").map(Number);
    assert.strictEqual(pids.length, 2);
    const deadline = performance.now() + 2000;
    while (pids.some(alive) && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const left = pids.filter(alive);
    for (const pid of left) Deno.kill(pid, "SIGKILL"); // a failed test leaves nothing behind
    assert.deepStrictEqual(left, [], "the FAKE and its child are gone");
  });
});

Deno.test("countFlows counts with conntrack -L, or from the kernel's table when conntrack is missing (FAKE conntrack)", async (t) => {
  await t.step("installed: the sum of what each call showed", async () => {
    const body = `echo "${FLOW_LINE}"\necho "${BANNER} 3 flow entries have been shown." >&2`;
    await withFakeConntrack(body, async (fake, dir) => {
      assert.deepStrictEqual(await countFlows([51820], { programs: [fake] }), {
        conntrack: "installed",
        ports: [51820],
        flows: 12,
        error: null,
      });
      assert.ok((await callsIn(dir)).every((argv) => argv[0] === "-L"));
    });
  });
  await t.step("installed, but the table cannot be listed", async () => {
    const body = `echo "${BANNER} Operation failed: sorry, you must be root" >&2; exit 1`;
    await withFakeConntrack(body, async (fake) => {
      assert.deepStrictEqual(await countFlows([51820], { programs: [fake] }), {
        conntrack: "installed",
        ports: [51820],
        flows: null,
        error: "conntrack failed: Operation failed: sorry, you must be root",
      });
    });
  });
  const programs = ["/nonexistent/conntrack"];
  await t.step("missing: counted from the kernel's table", async () => {
    const procFile = await Deno.makeTempFile({ prefix: "wr-nf-conntrack-" });
    try {
      await Deno.writeTextFile(procFile, PROC_TEXT);
      assert.deepStrictEqual(await countFlows([51820], { programs, procFile }), {
        conntrack: "missing",
        ports: [51820],
        flows: 4,
        error: null,
      });
    } finally {
      await Deno.remove(procFile);
    }
  });
  await t.step("missing, and the kernel's table cannot be read", async () => {
    const procFile = "/nonexistent/nf_conntrack";
    assert.deepStrictEqual(await countFlows([51820], { programs, procFile }), {
      conntrack: "missing",
      ports: [51820],
      flows: null,
      error:
        "cannot read /nonexistent/nf_conntrack: no such file (no connection tracking, or no /proc view of it)",
    });
  });
});

Deno.test("conntrack under permissions that do not name it is refused, not missing (FAKE conntrack)", async () => {
  await withFakeConntrack("exit 0", async (fake, dir) => {
    const permissions = [`--allow-read=${ROOT}`, "--allow-run=/bin/kill", "--no-prompt"];
    for (const op of ["forget", "count"]) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", ...permissions, FLOWS_MAIN, op, "51820", fake],
        env: { NO_COLOR: "1" },
        stdin: "null",
      }).output();
      assert.strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
      const outcome = JSON.parse(new TextDecoder().decode(out.stdout));
      const error = `not allowed to run ${fake} by the runtime's permissions`;
      assert.deepStrictEqual(
        outcome,
        op === "forget"
          ? { result: "failed", ports: [51820], deleted: 0, error }
          : { conntrack: "failed", ports: [51820], flows: null, error },
      );
    }
    assert.deepStrictEqual(await callsIn(dir), []);
  });
});

/**
 * /proc/net/nf_conntrack as the kernel writes it: 4 UDP flows of port 51820
 * (to it, IPv6 to it, both ends, from it), a TCP one, one of port 5182.
 */
const PROC_TEXT = [
  "ipv4     2 udp      17 29 src=192.0.2.7 dst=198.51.100.1 sport=40001 dport=51820 [UNREPLIED] src=198.51.100.1 dst=192.0.2.7 sport=51820 dport=40001 mark=0 zone=0 use=2",
  "ipv6     10 udp      17 170 src=2001:0db8:0000:0000:0000:0000:0000:0007 dst=2001:0db8:0000:0000:0000:0000:0000:0001 sport=40002 dport=51820 src=2001:0db8:0000:0000:0000:0000:0000:0001 dst=2001:0db8:0000:0000:0000:0000:0000:0007 sport=51820 dport=40002 [ASSURED] mark=0 zone=0 use=2",
  "ipv4     2 udp      17 170 src=198.51.100.1 dst=203.0.113.9 sport=51820 dport=51820 src=203.0.113.9 dst=198.51.100.1 sport=51820 dport=51820 [ASSURED] mark=0 zone=0 use=2",
  "ipv4     2 udp      17 29 src=192.0.2.8 dst=198.51.100.1 sport=51820 dport=53 src=198.51.100.1 dst=192.0.2.8 sport=53 dport=51820 mark=0 zone=0 use=2",
  "ipv4     2 tcp      6 431999 ESTABLISHED src=192.0.2.9 dst=198.51.100.1 sport=51820 dport=22 src=198.51.100.1 dst=192.0.2.9 sport=22 dport=51820 [ASSURED] mark=0 zone=0 use=2",
  "ipv4     2 udp      17 29 src=192.0.2.10 dst=198.51.100.1 sport=40003 dport=5182 src=198.51.100.1 dst=192.0.2.10 sport=5182 dport=40003 mark=0 zone=0 use=2",
  "",
].join("\n");

Deno.test("countProcFlows counts the UDP entries whose original direction has the port at either end", async (t) => {
  const cases: [string, string, number[], number][] = [
    ["to the port, from it, or both", PROC_TEXT, [51820], 4],
    ["a port no flow has", PROC_TEXT, [51821], 0],
    ["a prefix of a port is not the port", PROC_TEXT, [5182], 1],
    ["several ports", PROC_TEXT, [51820, 5182], 5],
    ["no table", "", [51820], 0],
  ];
  for (const [name, text, ports, n] of cases) {
    await t.step(name, () => assert.strictEqual(countProcFlows(text, ports), n));
  }
});

Deno.test("redactAddresses takes out IPv4 and IPv6 addresses, bare or with a port", async (t) => {
  const cases: [string, string][] = [
    ["src=192.0.2.7 dport=51820", "src=(address) dport=51820"],
    ["dst=2001:db8::7 and fe80::1%eth0", "dst=(address) and (address)"],
    ["dst=2001:0db8:0000:0000:0000:0000:0000:0001", "dst=(address)"],
    ["from 192.0.2.7:40001", "from redacted-ipv4:*"],
    ["src=::ffff:192.0.2.1 dport=51820", "src=(address) dport=51820"],
    [
      "conntrack v1.4.7: Operation failed: invalid parameters",
      "conntrack v1.4.7: Operation failed: invalid parameters",
    ],
  ];
  for (const [text, expected] of cases) {
    await t.step(text, () => assert.strictEqual(redactAddresses(text), expected));
  }
});

const outcome = (o: Partial<FlowOutcome>): FlowOutcome => ({
  result: "done",
  ports: [51820],
  deleted: 0,
  error: null,
  ...o,
});

Deno.test("flowLines word each outcome at its level, with no address", async (t) => {
  const cases: [string, FlowOutcome, string[]][] = [
    ["flows deleted", outcome({ deleted: 5 }), [
      "[INF] wg-reinstate·purge: wg0: connection-tracking flows of UDP port 51820 deleted: 5",
    ]],
    ["nothing to delete", outcome({}), [
      "[DBG] wg-reinstate·purge: wg0: connection-tracking flows of UDP port 51820 deleted: 0",
    ]],
    ["conntrack missing", outcome({ result: "missing" }), [
      "[DBG] wg-reinstate·purge: wg0: conntrack is not installed: the connection-tracking flows " +
      "of UDP port 51820 stay until they expire",
    ]],
    [
      "a failure",
      outcome({
        result: "failed",
        deleted: 2,
        error: "conntrack did not finish within 5 s; ended",
      }),
      [
        "[WRN] wg-reinstate·purge: wg0: could not delete the connection-tracking flows of UDP " +
        "port 51820 (2 deleted): conntrack did not finish within 5 s; ended; the rest expire on " +
        "their own",
      ],
    ],
    ["no port", outcome({ ports: [] }), []],
  ];
  for (const [name, o, expected] of cases) {
    await t.step(name, async () => {
      const lines = await renderLines(flowLines("wg0", o));
      // Without the time stamp.
      assert.deepStrictEqual(lines.map((l) => l.slice(l.indexOf("["))), expected);
    });
  }
});

const count = (c: Partial<FlowCount>): FlowCount => ({
  conntrack: "installed",
  ports: [51820],
  flows: 0,
  error: null,
  ...c,
});

Deno.test("flowStatusLine says what status shows of the table", async (t) => {
  const cases: [string, FlowCount, string][] = [
    [
      "installed",
      count({ flows: 1 }),
      "Connection tracking: 1 tracked flow on UDP port 51820; a purge deletes them with conntrack\n",
    ],
    [
      "installed, several ports",
      count({ ports: [51820, 51821], flows: 3 }),
      "Connection tracking: 3 tracked flows on UDP ports 51820, 51821; a purge deletes them " +
      "with conntrack\n",
    ],
    [
      "installed, not counted",
      count({ flows: null, error: "conntrack failed: Operation failed" }),
      "Connection tracking: the flows of UDP port 51820 could not be counted (conntrack failed: " +
      "Operation failed)\n",
    ],
    [
      "missing, counted",
      count({ conntrack: "missing", flows: 4 }),
      "Connection tracking: conntrack is not installed: a purge leaves the flows of UDP port " +
      "51820 until they expire (4 now); install it (apt-get install conntrack; OpenWrt: opkg " +
      "install conntrack), or keep the port untracked (README)\n",
    ],
    [
      "missing, the table not readable (the released program may not read /proc)",
      count({ conntrack: "missing", flows: null, error: "cannot read" }),
      "Connection tracking: conntrack is not installed: a purge leaves the flows of UDP port " +
      "51820 until they expire; install it (apt-get install conntrack; OpenWrt: opkg install " +
      "conntrack), or keep the port untracked (README)\n",
    ],
    [
      "not allowed",
      count({ conntrack: "failed", flows: null, error: "not allowed to run /x/conntrack" }),
      "Connection tracking: not allowed to run /x/conntrack\n",
    ],
    ["no bound port", count({ ports: [] }), ""],
  ];
  for (const [name, c, expected] of cases) {
    await t.step(name, () => assert.strictEqual(flowStatusLine(c), expected));
  }
});

Deno.test("the released program may run conntrack at its usual paths, by no name, as the docs say", async () => {
  const run = PERMISSION_FLAGS.find((f) => f.startsWith("--allow-run="))!;
  const programs = run.slice("--allow-run=".length).split(",");
  assert.deepStrictEqual(programs.filter((p) => p.endsWith("conntrack")), [...CONNTRACK_PATHS]);
  // /proc stays out of reach: status then counts with conntrack alone.
  assert.ok(!PERMISSION_FLAGS.some((f) => f.includes("/proc")));
  const safety = await Deno.readTextFile(`${ROOT}docs/safety.md`);
  for (const { flag, why } of PERMISSIONS) {
    assert.ok(safety.includes(`| \`${flag}\``), `docs/safety.md lists ${flag}`);
    assert.ok(safety.includes(why), `docs/safety.md gives the reason for ${flag.split("=")[0]}`);
  }
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  assert.match(readme.replace(/\s+/g, " "), /may run only `wg`, `kill` and `conntrack`/);
});
