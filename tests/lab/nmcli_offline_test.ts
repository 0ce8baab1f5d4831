/**
 * The NetworkManager reader against files the real `nmcli` (1.42, as in
 * Debian 12) writes. Its `--offline` mode prints a keyfile without a daemon
 * but cannot set WireGuard peers (that came in 1.56), so peers are appended
 * as text, in the `[wireguard-peer.<public key>]` form nm-settings-keyfile(5)
 * documents; `nmcli --offline connection modify` then shows that nmcli itself
 * reads such a file and keeps the peers.
 */
import assert from "node:assert/strict";
import { parseKeyfile, readNetworkManager } from "../../src/config/network_manager.ts";
import { sh } from "../harness/sh.ts";

const NMCLI = "/usr/bin/nmcli";

/** A random WireGuard key: 32 bytes in base64. */
function randomKey(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

/** nmcli's stdout without the `Warning:` lines some builds print in offline mode. */
function keyfileOf(stdout: string): string {
  return stdout.split("\n").filter((l) => !l.startsWith("Warning:")).join("\n");
}

/** A WireGuard profile as `nmcli --offline connection add` prints it, without peers. */
async function nmcliProfile(iface: string, privateKey: string): Promise<string> {
  const out = await sh([
    NMCLI,
    "--offline",
    "connection",
    "add",
    "type",
    "wireguard",
    "con-name",
    iface,
    "ifname",
    iface,
    "wireguard.private-key",
    privateKey,
    "wireguard.listen-port",
    "51820",
    "ipv4.method",
    "manual",
    "ipv4.addresses",
    "10.9.0.1/24",
  ], { env: { LC_ALL: "C" } });
  return keyfileOf(out.stdout);
}

/** The 1-based line of the first line of `text` equal to `line`. */
function lineOf(text: string, line: string): number {
  const index = text.split("\n").indexOf(line);
  assert.ok(index >= 0, `no line ${line}`);
  return index + 1;
}

/**
 * A keyfile with two peers appended as text, as nm-settings-keyfile(5) gives
 * them: one this side dials at `endpoint`, one it does not.
 */
function withPeers(base: string, dialed: string, dialing: string, endpoint: string): string {
  return `${base.trimEnd()}\n\n` + [
    `[wireguard-peer.${dialed}]`,
    `endpoint=${endpoint}`,
    "allowed-ips=10.9.0.2/32;",
    "",
    `[wireguard-peer.${dialing}]`,
    "allowed-ips=10.9.0.3/32;",
    "",
  ].join("\n");
}

Deno.test(
  "readNetworkManager reads the peers appended to a keyfile nmcli --offline wrote",
  async () => {
    const [privateKey, dialed, dialing] = [randomKey(), randomKey(), randomKey()];
    const base = await nmcliProfile("wgnm0", privateKey);
    assert.match(base, /^type=wireguard$/m);
    assert.match(base, /^interface-name=wgnm0$/m);
    const text = withPeers(base, dialed, dialing, "192.0.2.10:51820");
    const dir = await Deno.makeTempDir({ prefix: "nm-offline-" });
    try {
      const path = `${dir}/wgnm0.nmconnection`;
      await Deno.writeTextFile(path, text, { mode: 0o600 });
      await Deno.chmod(path, 0o600);
      assert.deepStrictEqual(await readNetworkManager([dir]), [
        {
          iface: "wgnm0",
          publicKey: dialed,
          endpointAt: `${path}:${lineOf(text, "endpoint=192.0.2.10:51820")}`,
          at: `${path}:${lineOf(text, `[wireguard-peer.${dialed}]`)}`,
        },
        {
          iface: "wgnm0",
          publicKey: dialing,
          endpointAt: null,
          at: `${path}:${lineOf(text, `[wireguard-peer.${dialing}]`)}`,
        },
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("nmcli --offline connection modify keeps the appended peer groups", async () => {
  const [privateKey, dialed, dialing] = [randomKey(), randomKey(), randomKey()];
  const base = await nmcliProfile("wgnm1", privateKey);
  const text = withPeers(base, dialed, dialing, "vpn.example.org:51820");
  const out = await sh(
    [NMCLI, "--offline", "connection", "modify", "connection.autoconnect", "no"],
    { stdin: text, env: { LC_ALL: "C" } },
  );
  const modified = keyfileOf(out.stdout);
  // nmcli parsed the file (it applied the change) and wrote the peers back.
  assert.match(modified, /^autoconnect=false$/m);
  const file = parseKeyfile(modified, "modified");
  assert.strictEqual(file.iface, "wgnm1");
  assert.deepStrictEqual(
    file.peers.map((p) => ({ key: p.publicKey, dials: p.endpointAt !== null })),
    [{ key: dialed, dials: true }, { key: dialing, dials: false }],
  );
  assert.strictEqual(
    file.peers[0].endpointAt,
    `modified:${lineOf(modified, "endpoint=vpn.example.org:51820")}`,
  );
});
