/**
 * The netplan reader against netplan itself: the real `netplan generate`
 * (netplan.io 0.106) renders the same YAML to networkd and NetworkManager
 * files, and the readers of those files must find the same peers, with an
 * endpoint where the YAML gives one. Where each reader places a peer
 * (`file:line`) differs, naturally; which peers and which have an endpoint
 * must not.
 */
import assert from "node:assert/strict";
import { readNetplan } from "../../src/config/netplan.ts";
import { readNetworkd } from "../../src/config/networkd.ts";
import { readNetworkManager } from "../../src/config/network_manager.ts";
import type { ConfiguredPeer } from "../../src/config/configured_peer.ts";
import { sh } from "../harness/sh.ts";
import { key } from "../support/peers.ts";

const NETPLAN = "/usr/sbin/netplan";

/**
 * Two files for one tunnel and a second tunnel: a.yaml's one peer and
 * b.yaml's two (of another count, so netplan's equal-length quirk keeps
 * them), a site peer with each endpoint form and roaming peers without.
 */
function files(renderer: string): Record<string, string> {
  return {
    "a.yaml": `network:
  version: 2
  renderer: ${renderer}
  tunnels:
    wg0:
      mode: wireguard
      key: ${key("z")}
      addresses: [10.0.0.1/24]
      peers:
        - keys: {public: ${key("a")}}
          endpoint: 192.0.2.1:51820
          allowed-ips: [10.1.0.0/24]
`,
    "b.yaml": `network:
  tunnels:
    wg0:
      peers:
        - keys:
            public: ${key("b")}
          allowed-ips: [10.0.0.2/32]
          keepalive: 25
        - keys: {public: ${key("c")}}
          endpoint: "[2001:db8::1]:51820"
          allowed-ips: [10.1.1.0/24]
    wg1:
      mode: wireguard
      key: ${key("y")}
      addresses: [10.2.0.1/24]
      peers:
        - keys: {public: ${key("d")}, shared: ${key("p")}}
          endpoint: vpn.example.org:4500
          allowed-ips: [10.3.0.0/24]
        - keys: {public: ${key("e")}}
          allowed-ips: [10.2.0.2/32]
  ethernets:
    eth9: {dhcp4: true}
`,
  };
}

/** What every reader must agree on. */
function facts(peers: ConfiguredPeer[]): [string, string, boolean][] {
  return peers.map((p): [string, string, boolean] => [p.iface, p.publicKey, p.endpointAt !== null])
    .sort((x, y) => `${x[0]} ${x[1]}`.localeCompare(`${y[0]} ${y[1]}`));
}

const EXPECTED: [string, string, boolean][] = [
  ["wg0", key("a"), true],
  ["wg0", key("b"), false],
  ["wg0", key("c"), true],
  ["wg1", key("d"), true],
  ["wg1", key("e"), false],
];

const RENDERERS: {
  renderer: string;
  dir: string;
  read: (dirs: readonly string[]) => Promise<ConfiguredPeer[]>;
}[] = [
  { renderer: "networkd", dir: "run/systemd/network", read: readNetworkd },
  {
    renderer: "NetworkManager",
    dir: "run/NetworkManager/system-connections",
    read: readNetworkManager,
  },
];

Deno.test({
  name: "readNetplan finds the peers that netplan generate renders, endpoints the same",
  fn: async (t) => {
    for (const { renderer, dir, read } of RENDERERS) {
      await t.step(renderer, async () => {
        const root = await Deno.makeTempDir({ prefix: "netplan_generate_" });
        try {
          await Deno.mkdir(`${root}/etc/netplan`, { recursive: true });
          for (const [name, text] of Object.entries(files(renderer))) {
            // netplan warns of a file that others can read.
            await Deno.writeTextFile(`${root}/etc/netplan/${name}`, text, { mode: 0o600 });
          }
          await sh([NETPLAN, "generate", "--root-dir", root]);

          const yaml = await readNetplan(["run", "etc", "lib"].map((d) => `${root}/${d}/netplan`));
          assert.deepStrictEqual(facts(yaml), EXPECTED);
          // Where the YAML sets them, not where netplan rendered them.
          assert.ok(yaml.every((p) => p.at.startsWith(`${root}/etc/netplan/`)));
          const rendered = await read([`${root}/${dir}`]);
          assert.deepStrictEqual(facts(rendered), facts(yaml));
        } finally {
          await Deno.remove(root, { recursive: true });
        }
      });
    }
  },
});
