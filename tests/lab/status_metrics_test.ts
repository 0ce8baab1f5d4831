/**
 * The status file and the metrics file after real purges on wireguard-go:
 * counts that add up across `run`s, no key, address or per-peer time in
 * either, a metrics file that Debian's `promtool check metrics` accepts and
 * that Debian's `prometheus-node-exporter` serves from its textfile
 * collector on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { runCli } from "../harness/cli.ts";
import { WgLab } from "../harness/lab.ts";
import { sh } from "../harness/sh.ts";

/** Serves `dir` with node_exporter's textfile collector only; returns the page it serves. */
async function scrape(dir: string): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    const exporter = new Deno.Command("prometheus-node-exporter", {
      args: [
        `--web.listen-address=127.0.0.1:${port}`,
        "--collector.disable-defaults",
        "--collector.textfile",
        `--collector.textfile.directory=${dir}`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      for (let i = 0; i < 100; i++) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/metrics`);
          return await response.text();
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      exporter.kill("SIGTERM"); // our own child, by its pid
      await exporter.status;
    }
  }
  throw new Error("node_exporter did not serve its page");
}

Deno.test("run writes a status file and metrics that promtool accepts and node_exporter serves", async () => {
  const lab = await WgLab.start();
  const dir = await Deno.makeTempDir({ prefix: "wr-metrics-" });
  try {
    const clients = [
      await lab.addClient({ psk: true }),
      await lab.addClient({ keepalive: 25 }),
      await lab.addClient({ ipv6: true }),
    ];
    for (const c of clients) assert.ok(await lab.ping(c));
    const before = await lab.dump();
    const files = [
      "--status-file",
      `${dir}/run/status.json`,
      "--metrics-file",
      `${dir}/textfile/wg-reinstate.prom`,
    ];
    const r = await runCli(["run", "-i", lab.iface, ...files], { clockShift: 300 });
    assert.strictEqual(r.code, 0, r.log);
    const again = await runCli(["run", "-i", lab.iface, "--dry-run", ...files], {
      clockShift: 300,
    });
    assert.strictEqual(again.code, 0, again.log);

    const statusText = await Deno.readTextFile(`${dir}/run/status.json`);
    const metrics = await Deno.readTextFile(`${dir}/textfile/wg-reinstate.prom`);
    for (const [what, text] of [["status file", statusText], ["metrics", metrics]]) {
      for (const p of before.peers) {
        assert.ok(!text.includes(p.publicKey.slice(0, 8)), `${what} holds a key`);
        if (p.endpoint !== null) {
          const address = p.endpoint.replace(/^\[|\]?:\d+$/g, "");
          assert.ok(!text.includes(address), `${what} holds an endpoint address`);
        }
        if (p.latestHandshake > 0) {
          assert.ok(!text.includes(String(p.latestHandshake)), `${what} holds a handshake time`);
        }
      }
    }
    const status = JSON.parse(statusText);
    assert.deepStrictEqual(status.totals.cycles, { ok: 2, failed: 0 });
    assert.deepStrictEqual(status.totals.purged, { [lab.iface]: 3 });
    // The clock shifted by 300 s: each peer purged about 120 s past its deadline (180 s), in the
    // 300 s bucket.
    const linger = status.totals.linger[lab.iface];
    assert.deepStrictEqual(linger.buckets, [0, 0, 0, 0, 0, 0, 0, 0, 3, 0], JSON.stringify(linger));
    assert.ok(linger.sumSeconds >= 3 * 100 && linger.sumSeconds <= 3 * 150, `${linger.sumSeconds}`);
    assert.strictEqual(status.lastCycle.dryRun, true);
    assert.deepStrictEqual(status.lastCycle.interfaces[0].kept.active, 0);

    const shown = await runCli(["status", "-i", lab.iface, ...files.slice(0, 2)]);
    assert.match(
      shown.stdout,
      /^Last cycle: \d{4}-\d\d-\d\d [\d:]+ UTC \(.*ago\), [\d.]+ s, ok \(dry run\)$/m,
    );
    assert.match(shown.stdout, new RegExp(`^  ${lab.iface}: 3 checked, 0 purged`, "m"));
    assert.match(
      shown.stdout,
      /^Since .*: 2 cycles; 3 peers purged on \S+; no peer repaired$/m,
    );

    const lint = await sh(["promtool", "check", "metrics"], { stdin: metrics, allowFail: true });
    assert.strictEqual(lint.code, 0, lint.stdout + lint.stderr);

    const page = await scrape(`${dir}/textfile`);
    for (
      const line of [
        `wg_reinstate_purged_peers_total{interface="${lab.iface}"} 3`,
        `wg_reinstate_linger_seconds_bucket{interface="${lab.iface}",le="300"} 3`,
        `wg_reinstate_linger_seconds_count{interface="${lab.iface}"} 3`,
        'wg_reinstate_cycles_total{result="ok"} 2',
        // The last cycle, a dry run after the purge: the endpoints are gone.
        `wg_reinstate_peers{decision="keep",interface="${lab.iface}",reason="no-endpoint"} 3`,
        `wg_reinstate_peers{decision="purge",interface="${lab.iface}",reason="stale"} 0`,
      ]
    ) assert.ok(page.split("\n").includes(line), `${line} not served:\n${page}`);
    assert.match(page, /^node_textfile_scrape_error 0$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await lab.close();
  }
});
