/**
 * The bundle (scripts/release/bundle.ts), run with exactly the permissions the compiled
 * binary bakes in (scripts/release/runtime_flags.ts), against real wireguard-go:
 * `status`, a `run` that purges stale peers (one with a PSK), and proof that
 * what lies outside the set is denied.
 */
import assert from "node:assert/strict";
import { WgLab } from "../harness/lab.ts";
import { sh } from "../harness/sh.ts";
import { bundleBytes, bundleTo } from "../../scripts/release/bundle.ts";
import { RUNTIME_FLAGS } from "../../scripts/release/runtime_flags.ts";
import { peerByKey } from "../harness/scenario.ts";
import { withPrivateRunDir } from "../support/private_run_dir.ts";

/** Its run directory (status file, locks, key directories) is `${dir}/run`, not the host's. */
function runBundle(dir: string, file: string, args: string[]) {
  return sh(
    withPrivateRunDir(`${dir}/run`, [Deno.execPath(), "run", ...RUNTIME_FLAGS, file, ...args]),
    {
      allowFail: true,
      env: { ...Deno.env.toObject(), NO_COLOR: "1" },
    },
  );
}

Deno.test("the bundle runs status and a purge under the baked-in permissions, and nothing more", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wr-bundle-" });
  const lab = await WgLab.start();
  try {
    const file = await bundleTo(`${dir}/bundle`);
    await Deno.mkdir(`${dir}/run`, { mode: 0o700 });
    console.log(`bundle: ${await bundleBytes(`${dir}/bundle`)} bytes`);
    const peers = await lab.handshakeMany([{ psk: true }, { keepalive: 25 }]);
    assert.ok(peers.every((p) => p.result.ok));

    const status = await runBundle(dir, file, ["status", "-i", lab.iface]);
    assert.strictEqual(status.code, 0, status.stderr);
    const rows = status.stdout.split("\n").filter((l) => l.startsWith(`${lab.iface} `));
    assert.strictEqual(rows.length, 2, status.stdout);

    // Stale for real, without a clock shift (that would need an env permission).
    await new Promise((r) => setTimeout(r, 2100));
    const run = await runBundle(dir, file, [
      "run",
      "-i",
      lab.iface,
      "--stale-after",
      "1",
      "--force-short-threshold",
      "--json",
    ]);
    assert.strictEqual(run.code, 0, run.stderr);
    assert.strictEqual(JSON.parse(run.stdout).interfaces[0].purged.length, 2);
    // The status file, in the run directory the permissions allow.
    const shown = await runBundle(dir, file, ["status", "-i", lab.iface]);
    assert.match(shown.stdout, /^Last cycle: \d{4}-.* UTC \(.*\), [\d.]+ s, (ok|failed)/m);
    const after = (await lab.dump()).peers;
    for (const p of peers) {
      const now = peerByKey(after, p.keys.publicKey);
      assert.strictEqual(now.endpoint, null);
      assert.strictEqual(now.presharedKey, p.psk);
    }

    // Outside the set: a file elsewhere cannot be read, another program cannot be run.
    const outside = `${dir}/settings.json`;
    await Deno.writeTextFile(outside, "{}");
    const read = await runBundle(dir, file, ["status", "-i", lab.iface, "--config", outside]);
    assert.strictEqual(read.code, 2);
    assert.match(
      read.stderr,
      new RegExp(`${outside}: cannot read config file: not allowed by the runtime's permissions`),
    );
    const exec = await runBundle(dir, file, ["status", "-i", lab.iface, "--wg", "/bin/true"]);
    assert.strictEqual(exec.code, 1);
    assert.match(exec.stderr, /not allowed to run "\/bin\/true"/);
  } finally {
    await lab.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the bundle loads no node:module at start, and its YAML reader reads netplan", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wr-bundle-" });
  try {
    const file = await bundleTo(`${dir}/bundle`);
    // Any CommonJS in the bundle brings a createRequire shim into the chunk every command loads.
    for await (const chunk of Deno.readDir(`${dir}/bundle`)) {
      const text = await Deno.readTextFile(`${dir}/bundle/${chunk.name}`);
      assert.ok(!text.includes("node:module"), `${chunk.name} imports node:module`);
    }
    const key = "A".repeat(43) + "=";
    await Deno.mkdir(`${dir}/netplan`);
    await Deno.writeTextFile(
      `${dir}/netplan/60-site.yaml`,
      [
        "network:",
        "  tunnels:",
        "    wgx0:",
        "      mode: wireguard",
        "      peers:",
        `        - keys: {public: "${key}"}`,
        "          endpoint: 192.0.2.1:51820",
        "",
      ].join("\n"),
    );
    const args = ["config", "-i", "wgx0", "--netplan-dirs", `${dir}/netplan`];
    const shown = await sh(
      [Deno.execPath(), "run", "-A", file, ...args, "--networkd-dirs", "off"],
      { allowFail: true, env: { ...Deno.env.toObject(), NO_COLOR: "1" } },
    );
    assert.strictEqual(shown.code, 0, shown.stderr);
    assert.deepStrictEqual(JSON.parse(shown.stdout).interfaces[0].protected[0].reasons, [
      `netplan endpoint at ${dir}/netplan/60-site.yaml:7`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
