import assert from "node:assert/strict";
import { loadConfigured } from "../../src/config/configurators.ts";
import { resolveSettings } from "../../src/config/schema.ts";
import { ConfigError } from "../../src/common/errors.ts";
import { keyN } from "../support/peers.ts";

const NETDEV = `[NetDev]\nName=wg0\nKind=wireguard\n[WireGuard]\nPrivateKey=${keyN(1)}\n` +
  `[WireGuardPeer]\nPublicKey=${keyN(2)}\nEndpoint=192.0.2.1:51820\n`;

Deno.test("loadConfigured runs each reader on its directories, and only where it has files", async (t) => {
  const dir = await Deno.makeTempDir();
  const settings = (values: Record<string, string>) =>
    resolveSettings([{
      source: "t",
      values: { networkdDirs: "off", netplanDirs: "off", networkManagerDirs: "off", ...values },
    }]);
  try {
    await Deno.mkdir(`${dir}/networkd`);
    await Deno.writeTextFile(`${dir}/networkd/50-wg0.netdev`, NETDEV);
    await Deno.mkdir(`${dir}/netplan`);
    await Deno.writeTextFile(`${dir}/netplan/generate`, "not YAML: [");
    await t.step("off reads nothing", async () => {
      assert.deepStrictEqual(await loadConfigured(settings({})), { network: null, peers: [] });
    });
    await t.step("networkd's file, found in the second of its directories", async () => {
      const { peers } = await loadConfigured(
        settings({ networkdDirs: `${dir}/none:${dir}/networkd` }),
      );
      assert.deepStrictEqual(peers.map((p) => [p.by, p.peer.iface, p.peer.endpointAt]), [
        ["networkd", "wg0", `${dir}/networkd/50-wg0.netdev:8`],
      ]);
    });
    await t.step("netplan's reader runs only for a *.yaml", async () => {
      assert.deepStrictEqual(
        (await loadConfigured(settings({ netplanDirs: `${dir}/netplan` }))).peers,
        [],
      );
      await Deno.writeTextFile(`${dir}/netplan/x.yaml`, "network: [");
      await assert.rejects(
        loadConfigured(settings({ netplanDirs: `${dir}/netplan` })),
        (e: Error) => e instanceof ConfigError && e.message.startsWith(`${dir}/netplan/x.yaml:1`),
      );
    });
    await t.step("a directory that is a file is an error", async () => {
      await assert.rejects(
        loadConfigured(settings({ networkManagerDirs: `${dir}/networkd/50-wg0.netdev` })),
        /50-wg0\.netdev: cannot read directory: /,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
