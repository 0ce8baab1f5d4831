/**
 * Each configurator the tool reads, on real wireguard-go with real
 * handshakes: one interface holds a site-to-site peer, whose endpoint the
 * configurator's file sets (this side dials it), and a roaming client, which
 * the file lists without one. After a stale `run` the site's endpoint is kept
 * for the file named in `config`, and the client's is forgotten.
 */
import assert from "node:assert/strict";
import { runCli } from "../harness/cli.ts";
import { WgLab } from "../harness/lab.ts";
import { keyN } from "../support/peers.ts";

/** What a configurator's file says: the site dialed at `endpoint`, the client without one. */
interface Peers {
  iface: string;
  site: string;
  endpoint: string;
  client: string;
}

interface Configurator {
  name: string;
  /** The flag that points the tool at its directories. */
  flag: string;
  /** The file's name in the directory, its text, and the line of the site's endpoint. */
  file(p: Peers): { name: string; text: string; endpointLine: number };
}

const PRIVATE = keyN(7, 99);

const CONFIGURATORS: Configurator[] = [
  {
    name: "networkd",
    flag: "--networkd-dirs",
    file: (p) => ({
      name: "50-site.netdev",
      text: [
        "[NetDev]",
        `Name=${p.iface}`,
        "Kind=wireguard",
        "[WireGuard]",
        `PrivateKey=${PRIVATE}`,
        "[WireGuardPeer]",
        `PublicKey=${p.site}`,
        `Endpoint=${p.endpoint}`,
        "AllowedIPs=10.30.0.2/32",
        "[WireGuardPeer]",
        `PublicKey=${p.client}`,
        "",
      ].join("\n"),
      endpointLine: 8,
    }),
  },
  {
    name: "netplan",
    flag: "--netplan-dirs",
    file: (p) => ({
      name: "60-site.yaml",
      text: [
        "network:",
        "  version: 2",
        "  tunnels:",
        `    ${p.iface}:`,
        "      mode: wireguard",
        `      key: ${PRIVATE}`,
        "      peers:",
        `        - keys: {public: "${p.site}"}`,
        `          endpoint: ${p.endpoint}`,
        `        - keys: {public: "${p.client}"}`,
        "",
      ].join("\n"),
      endpointLine: 9,
    }),
  },
  {
    name: "NetworkManager",
    flag: "--network-manager-dirs",
    file: (p) => ({
      name: "site.nmconnection",
      text: [
        "[connection]",
        "id=site",
        "uuid=3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
        "type=wireguard",
        `interface-name=${p.iface}`,
        "[wireguard]",
        `private-key=${PRIVATE}`,
        `[wireguard-peer.${p.site}]`,
        `endpoint=${p.endpoint}`,
        "allowed-ips=10.30.0.2/32;",
        `[wireguard-peer.${p.client}]`,
        "allowed-ips=10.30.0.3/32;",
        "",
      ].join("\n"),
      endpointLine: 9,
    }),
  },
];

const ALL_OFF = CONFIGURATORS.flatMap((c) => [c.flag, "off"]);

Deno.test("run keeps the endpoint each configurator sets and forgets the roaming client's", async (t) => {
  const lab = await WgLab.start();
  const dir = await Deno.makeTempDir({ prefix: "wr-configurators-" });
  try {
    for (const c of CONFIGURATORS) {
      await t.step(c.name, async () => {
        // Fresh peers: a purged client's session lives on at its side until it rekeys.
        const site = await lab.addClient({ serverDials: true });
        const client = await lab.addClient();
        for (const peer of [site, client]) assert.ok(await lab.ping(peer), "real handshake");
        const before = await lab.dump();
        const endpointOf = (key: string) => before.peers.find((p) => p.publicKey === key)!.endpoint;
        const endpoint = endpointOf(site.keys.publicKey)!;
        assert.ok(endpointOf(client.keys.publicKey) !== null);
        const file = c.file({
          iface: lab.iface,
          site: site.keys.publicKey,
          endpoint,
          client: client.keys.publicKey,
        });
        const path = `${dir}/${file.name}`;
        await Deno.writeTextFile(path, file.text, { mode: 0o600 });
        // The others off, so that only this configurator's file counts.
        const flags = [...ALL_OFF, c.flag, `${dir}/none:${dir}`];

        const shown = await runCli(["config", "-i", lab.iface, ...flags]);
        assert.strictEqual(shown.code, 0, shown.log);
        assert.deepStrictEqual(JSON.parse(shown.stdout).interfaces[0].protected, [{
          publicKey: site.keys.publicKey,
          reasons: [`${c.name} endpoint at ${path}:${file.endpointLine}`],
          description: null,
        }]);

        const run = await runCli(["run", "-i", lab.iface, ...flags], { clockShift: 600 });
        assert.strictEqual(run.code, 0, run.log);
        assert.match(run.log, /, kept .*configured-endpoint=1\n/);
        assert.ok(!run.log.includes(endpoint), "no address logged");
        const after = await lab.dump();
        const now = (key: string) => after.peers.find((p) => p.publicKey === key)!.endpoint;
        assert.strictEqual(now(site.keys.publicKey), endpoint, "the dialed endpoint kept");
        assert.strictEqual(now(client.keys.publicKey), null, "the client's endpoint forgotten");
        await Deno.remove(path);
      });
    }
    await t.step(
      "a bad file: one line naming file:line and field, exit 2, nothing changed",
      async () => {
        const site = await lab.addClient({ serverDials: true });
        assert.ok(await lab.ping(site), "real handshake");
        const before = await lab.dump();
        const endpoint = before.peers.find((p) => p.publicKey === site.keys.publicKey)!.endpoint!;
        const file = CONFIGURATORS[0].file({
          iface: lab.iface,
          site: site.keys.publicKey,
          endpoint: `${endpoint} # the branch`, // networkd has no comment after a value
          client: keyN(8, 99),
        });
        const path = `${dir}/${file.name}`;
        await Deno.writeTextFile(path, file.text, { mode: 0o600 });
        const run = await runCli(["run", "-i", lab.iface, "--networkd-dirs", dir], {
          clockShift: 600,
        });
        assert.strictEqual(run.code, 2, run.log);
        const lines = run.stderr.trim().split("\n");
        assert.strictEqual(lines.length, 1, run.stderr);
        assert.match(lines[0], new RegExp(`${path}:${file.endpointLine}: Endpoint: expected `));
        assert.ok(!run.log.includes(endpoint) && !run.log.includes(site.keys.publicKey));
        // By key: wireguard-go lists its peers in no fixed order.
        const byKey = (i: typeof before) =>
          i.peers.toSorted((x, y) => x.publicKey < y.publicKey ? -1 : 1);
        assert.deepStrictEqual(byKey(await lab.dump()), byKey(before), "nothing changed");
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await lab.close();
  }
});
