/**
 * systemd-networkd as the configurator, under real systemd in the test VM
 * (scripts/vm/run_in_vm.sh --init systemd), against kernel WireGuard: the
 * real networkd creates the interface from a `.netdev` in
 * /run/systemd/network, with a site-to-site peer it dials and a roaming
 * client it lists without an endpoint. After real handshakes and a stale
 * `run` of the bundle under the compiled program's permissions, found by
 * the default discovery, the interface holds exactly the endpoint networkd
 * set, and the client's is forgotten.
 */
import assert from "node:assert/strict";
import { bundleTo } from "../../scripts/release/bundle.ts";
import { RUNTIME_FLAGS } from "../../scripts/release/runtime_flags.ts";
import { parseInterfaceDump } from "../support/dump_text.ts";
import { generateKeyPair } from "../harness/initiator.ts";
import { sh } from "../harness/sh.ts";

const NETWORK_DIR = "/run/systemd/network";

async function waitFor(what: string, check: () => Promise<boolean>, seconds = 60): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

Deno.test("networkd's netdev: run keeps exactly the endpoint networkd set and forgets the client's", async () => {
  assert.strictEqual((await Deno.readTextFile("/proc/1/comm")).trim(), "systemd");
  const id = crypto.randomUUID().slice(0, 4);
  const iface = `wgnd${id}`;
  const work = await Deno.makeTempDir({ prefix: "wr-networkd-" });
  const server = generateKeyPair();
  const clients = [
    { name: "site", ns: `wr-nd${id}-site`, keys: generateKeyPair(), n: 1 },
    { name: "roaming", ns: `wr-nd${id}-roam`, keys: generateKeyPair(), n: 2 },
  ];
  const netdev = `${NETWORK_DIR}/50-${iface}.netdev`;
  const network = `${NETWORK_DIR}/50-${iface}.network`;
  try {
    for (const c of clients) {
      const veth = `vnd${id}${c.n}`;
      await sh(["ip", "netns", "add", c.ns]);
      await sh(["ip", "link", "add", veth, "type", "veth", "peer", "name", "vp", "netns", c.ns]);
      await sh(["ip", "addr", "add", `172.29.${c.n}.1/24`, "dev", veth]);
      await sh(["ip", "link", "set", veth, "up"]);
      const inNs = (...cmd: string[]) => sh(["ip", "netns", "exec", c.ns, ...cmd]);
      await inNs("ip", "addr", "add", `172.29.${c.n}.2/24`, "dev", "vp");
      await inNs("ip", "link", "set", "vp", "up");
      await inNs("ip", "link", "add", "wg0", "type", "wireguard");
      const keyFile = `${work}/${c.name}.key`;
      await Deno.writeTextFile(keyFile, c.keys.privateKey, { mode: 0o600 });
      // The roaming client dials the server; the site waits to be dialed.
      const dial = c.name === "roaming" ? ["endpoint", "172.29.2.1:51820"] : [];
      await inNs(
        "wg",
        "set",
        "wg0",
        "private-key",
        keyFile,
        "listen-port",
        "51821",
        "peer",
        server.publicKey,
        "allowed-ips",
        "10.29.0.1/32",
        ...dial,
      );
      await inNs("ip", "addr", "add", `10.29.0.${c.n + 1}/32`, "dev", "wg0");
      await inNs("ip", "link", "set", "wg0", "up");
      await inNs("ip", "route", "add", "10.29.0.1/32", "dev", "wg0");
    }
    const [site, roaming] = clients;
    await Deno.mkdir(NETWORK_DIR, { recursive: true });
    await Deno.writeTextFile(
      netdev,
      [
        "[NetDev]",
        `Name=${iface}`,
        "Kind=wireguard",
        "",
        "[WireGuard]",
        `PrivateKey=${server.privateKey}`,
        "ListenPort=51820",
        "",
        "# The branch office, which this side dials",
        "[WireGuardPeer]",
        `PublicKey=${site.keys.publicKey}`,
        "Endpoint=172.29.1.2:51821",
        "AllowedIPs=10.29.0.2/32",
        "",
        "[WireGuardPeer]",
        `PublicKey=${roaming.keys.publicKey}`,
        "AllowedIPs=10.29.0.3/32",
        "",
      ].join("\n"),
      { mode: 0o640 },
    );
    // As systemd.netdev(5) advises for a file with a private key: networkd's group reads it.
    await sh(["chgrp", "systemd-network", netdev]);
    await Deno.writeTextFile(
      network,
      `[Match]\nName=${iface}\n\n[Network]\nAddress=10.29.0.1/24\n`,
    );
    await sh(["systemctl", "start", "systemd-networkd"]);
    const dump = async () => {
      const out = await sh(["wg", "show", iface, "dump"], { allowFail: true });
      return out.code === 0 ? parseInterfaceDump(iface, out.stdout) : null;
    };
    await waitFor(
      "networkd to create the interface",
      async () => (await dump())?.peers.length === 2,
    )
      .catch(async (error) => {
        const log = await sh(["journalctl", "-u", "systemd-networkd", "--no-pager"], {
          allowFail: true,
        });
        throw new Error(`${error.message}; networkd's journal:\n${log.stdout}`, { cause: error });
      });

    // Real handshakes: the server dials the site, the roaming client dials the server.
    await waitFor(
      "a handshake with the site",
      async () => (await sh(["ping", "-c1", "-W1", "10.29.0.2"], { allowFail: true })).code === 0,
    );
    await waitFor(
      "a handshake from the roaming client",
      async () =>
        (await sh(["ip", "netns", "exec", roaming.ns, "ping", "-c1", "-W1", "10.29.0.1"], {
          allowFail: true,
        })).code === 0,
    );
    const before = (await dump())!;
    const endpointOf = (key: string, of = before) =>
      of.peers.find((p) => p.publicKey === key)!.endpoint;
    assert.strictEqual(endpointOf(site.keys.publicKey), "172.29.1.2:51821");
    assert.strictEqual(endpointOf(roaming.keys.publicKey), "172.29.2.2:51821");

    // The bundle under the compiled program's permissions, as the unit runs it.
    const entry = await bundleTo(`${work}/bundle`);
    const cli = (...args: string[]) =>
      sh([Deno.execPath(), "run", ...RUNTIME_FLAGS, entry, ...args], { allowFail: true });
    const shown = await cli("config", "-i", iface);
    assert.strictEqual(shown.code, 0, shown.stderr);
    assert.deepStrictEqual(JSON.parse(shown.stdout).interfaces[0].protected, [{
      publicKey: site.keys.publicKey,
      reasons: [`networkd endpoint at ${netdev}:12`],
      description: null,
    }]);

    // Both handshakes are 5 s old: stale at a forced 5 s threshold.
    await new Promise((r) => setTimeout(r, 6500));
    const run = await cli("run", "-i", iface, "--stale-after", "5", "--force-short-threshold");
    assert.strictEqual(run.code, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /1 purged \(stale=1\), kept configured-endpoint=1\n/);
    const after = (await dump())!;
    // Exactly the endpoints networkd set: the site's.
    assert.deepStrictEqual(
      after.peers.filter((p) => p.endpoint !== null).map((p) => [p.publicKey, p.endpoint]),
      [[site.keys.publicKey, "172.29.1.2:51821"]],
    );
    assert.strictEqual(endpointOf(roaming.keys.publicKey, after), null);
  } finally {
    await sh(["systemctl", "stop", "systemd-networkd"], { allowFail: true });
    await sh(["ip", "link", "del", iface], { allowFail: true });
    for (const c of clients) await sh(["ip", "netns", "del", c.ns], { allowFail: true });
    for (const f of [netdev, network]) await Deno.remove(f).catch(() => {});
    await Deno.remove(work, { recursive: true });
  }
});
