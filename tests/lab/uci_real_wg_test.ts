/**
 * Protection from an OpenWrt network config, against real wireguard-go: the
 * peer with endpoint_host keeps its endpoint, the roaming ones lose theirs,
 * and `status` shows the descriptions.
 */
import assert from "node:assert/strict";
import { runCli } from "../harness/cli.ts";
import { WgLab } from "../harness/lab.ts";
import { configOf, peerByKey } from "../harness/scenario.ts";

Deno.test("run protects a network-config peer with endpoint_host and purges the roaming ones", async () => {
  const lab = await WgLab.start();
  try {
    const site = await lab.addClient({ serverDials: true });
    const phone = await lab.addClient({ psk: true });
    const laptop = await lab.addClient({ keepalive: 25 });
    for (const c of [site, phone, laptop]) assert.ok(await lab.ping(c));
    const network = `${lab.workDir}/network`;
    await Deno.writeTextFile(
      network,
      [
        `config interface '${lab.iface}'`,
        "\toption proto 'wireguard'",
        "",
        `config wireguard_${lab.iface} 'branch'`,
        `\toption public_key '${site.keys.publicKey}'`,
        "\toption description 'Branch office'",
        `\toption endpoint_host '172.30.${site.index}.2'`,
        "\toption endpoint_port '51821'",
        "",
        `config wireguard_${lab.iface}`,
        `\toption public_key '${phone.keys.publicKey}'`,
        "\toption description 'Alice phone'",
        "",
        `config wireguard_${lab.iface}`,
        `\toption public_key '${laptop.keys.publicKey}'`,
        `\toption endpoint_host 'laptop.example.net'`,
        "\toption disabled '1'",
        "",
      ].join("\n"),
    );
    const uci = `${lab.workDir}/wg-reinstate`;
    await Deno.writeTextFile(
      uci,
      `config wg-reinstate 'main'\n\tlist interface '${lab.iface}'\n\toption network_config '${network}'\n`,
    );
    const before = (await lab.dump()).peers;

    const status = await runCli(["status", "--uci", uci], { clockShift: 300 });
    assert.strictEqual(status.code, 0, status.log);
    const line = (key: string) =>
      status.stdout.split("\n").find((l) => l.includes(key.slice(0, 8)))!.split(/\s{2,}/);
    assert.deepStrictEqual(line(site.keys.publicKey).slice(3), [
      "keep",
      "configured-endpoint",
      "Branch office",
    ]);
    assert.deepStrictEqual(line(phone.keys.publicKey).slice(3), ["purge", "stale", "Alice phone"]);
    assert.deepStrictEqual(line(laptop.keys.publicKey).slice(3), ["purge", "stale"]);

    const r = await runCli(["run", "--uci", uci, "--json"], { clockShift: 300 });
    assert.strictEqual(r.code, 0, r.log);
    const after = (await lab.dump()).peers;
    assert.notStrictEqual(peerByKey(after, site.keys.publicKey).endpoint, null);
    assert.strictEqual(
      peerByKey(after, site.keys.publicKey).latestHandshake,
      peerByKey(before, site.keys.publicKey).latestHandshake,
    );
    for (const c of [phone, laptop]) {
      assert.strictEqual(peerByKey(after, c.keys.publicKey).endpoint, null);
      assert.deepStrictEqual(
        configOf(peerByKey(after, c.keys.publicKey)),
        configOf(peerByKey(before, c.keys.publicKey)),
      );
    }
  } finally {
    await lab.close();
  }
});
