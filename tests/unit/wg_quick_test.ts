import assert from "node:assert/strict";
import { loadProtection } from "../../src/config/protection.ts";
import { resolveSettings } from "../../src/config/schema.ts";
import { parseWgQuick } from "../../src/config/wg_quick.ts";
import { ConfigError, ParseError } from "../../src/common/errors.ts";
import { key } from "../support/peers.ts";

const CONF = `# site links
[Interface]
PrivateKey = ${key("z")}
Address = 10.0.0.1/24
ListenPort = 51820

[Peer]
# branch office, dialled by us
PublicKey = ${key("a")}
endpoint = branch.example.net:51820
AllowedIPs = 10.1.0.0/24

[peer]
PublicKey=${key("b")}
PresharedKey = ${key("p")}
AllowedIPs = 10.0.0.2/32
`;

Deno.test("parseWgQuick finds which peers have a configured endpoint", () => {
  assert.deepStrictEqual(parseWgQuick(CONF, "wg0.conf"), {
    peers: [
      { publicKey: key("a"), hasEndpoint: true },
      { publicKey: key("b"), hasEndpoint: false },
    ],
    saveConfig: false,
  });
});

Deno.test("parseWgQuick reads SaveConfig as wg-quick does: true only in [Interface]", async (t) => {
  const cases: [string, string, boolean][] = [
    ["SaveConfig = true", "[Interface]\nSaveConfig = true\n", true],
    ["any case of the key", "[interface]\nsaveconfig=true\n", true],
    ["false", "[Interface]\nSaveConfig = false\n", false],
    ["TRUE is not true to wg-quick", "[Interface]\nSaveConfig = TRUE\n", false],
    ["in a [Peer]", `[Peer]\nPublicKey = ${key("a")}\nSaveConfig = true\n`, false],
    ["commented out", "[Interface]\n# SaveConfig = true\n", false],
  ];
  for (const [name, text, expected] of cases) {
    await t.step(name, () => assert.strictEqual(parseWgQuick(text, "x.conf").saveConfig, expected));
  }
});

Deno.test("parseWgQuick names file and line of a bad key, without the secret", () => {
  const bad = CONF.replace(`PublicKey=${key("b")}`, "PublicKey = notakey");
  assert.throws(
    () => parseWgQuick(bad, "wg0.conf"),
    (e: Error) =>
      e instanceof ParseError && e instanceof SyntaxError &&
      /^wg0\.conf:14: PublicKey: is not a WireGuard key$/.test(e.message),
  );
  assert.throws(
    () => parseWgQuick("[Peer]\nAllowedIPs = 10.0.0.0/8\n", "x.conf"),
    /x\.conf:1: \[Peer\] has no PublicKey/,
  );
});

Deno.test("loadProtection protects configured endpoints and refuses a missing configured file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/wg7.conf`, CONF);
    const settings = resolveSettings([{
      source: "t",
      values: { wgQuickConfig: `${dir}/%i.conf`, exclude: [key("c")] },
    }]);
    const { policy } = await loadProtection(settings, "wg7");
    assert.deepStrictEqual([...policy.configuredEndpoints], [key("a")]);
    assert.deepStrictEqual([...policy.exclude], [key("c")]);
    await assert.rejects(
      loadProtection(settings, "wg8"),
      /wg-quick-config: .*wg8\.conf: no such file/,
    );
    // A file that does not parse is a configuration error (exit 2) whose cause
    // is the parse error with its position.
    await Deno.writeTextFile(`${dir}/wg9.conf`, "[Peer]\nPublicKey = nope\n");
    await assert.rejects(loadProtection(settings, "wg9"), (e: Error) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.strictEqual(e.exitCode, 2);
      assert.ok(e.cause instanceof ParseError);
      assert.deepStrictEqual(e.cause.position, {
        source: `${dir}/wg9.conf`,
        line: 2,
        field: "PublicKey",
      });
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadProtection takes no Endpoint line of a SaveConfig file as configured, and says so", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const saved = CONF.replace("ListenPort = 51820", "ListenPort = 51820\nSaveConfig = true");
    await Deno.writeTextFile(`${dir}/wg7.conf`, saved);
    const settings = resolveSettings([{
      source: "t",
      values: { wgQuickConfig: `${dir}/%i.conf` },
    }]);
    const { policy, protectedPeers } = await loadProtection(settings, "wg7");
    assert.strictEqual(policy.saveConfig, `${dir}/wg7.conf`);
    assert.deepStrictEqual([...policy.configuredEndpoints], []);
    assert.deepStrictEqual(protectedPeers, []);
    // A peer saved without an endpoint is still known: an endpoint without a handshake
    // is a replay. One saved with an endpoint may be dialled: that is never taken for one.
    assert.deepStrictEqual([...policy.configuredWithoutEndpoint], [key("b")]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
