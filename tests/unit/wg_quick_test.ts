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

Deno.test("parseWgQuick finds which peers have a configured endpoint, and where", () => {
  assert.deepStrictEqual(parseWgQuick(CONF, "wg0.conf", "wg0"), {
    peers: [
      { publicKey: key("a"), line: 7, endpointLine: 10, hookLine: null },
      { publicKey: key("b"), line: 13, endpointLine: null, hookLine: null },
    ],
    saveConfig: false,
    unreadHooks: [],
  });
});

Deno.test("parseWgQuick reads every spelling wg reads", async (t) => {
  // `wg` removes all whitespace and compares sections and keys ignoring case.
  const cases: [string, string][] = [
    ["[ Peer ] and End point", `[ Peer ]\nPublicKey = ${key("a")}\nEnd point = 192.0.2.1:51820\n`],
    ["[Peer ] and Public Key", `[Peer ]\nPublic Key=${key("a")}\nendPOINT=192.0.2.1:51820\n`],
    ["tabs and CRLF", `[\tpeer\t]\r\n\tPublicKey\t=\t${key("a")}\r\nEndpoint=192.0.2.1:51820\r\n`],
    [
      "a comment after the value",
      `[PEER]#x\nPublicKey=${key("a")}#y\nEndpoint=192.0.2.1:51820#z\n`,
    ],
  ];
  for (const [name, text] of cases) {
    await t.step(name, () => {
      const { peers } = parseWgQuick(text, "x.conf", "wg0");
      assert.deepStrictEqual(peers.map((p) => [p.publicKey, p.endpointLine]), [[key("a"), 3]]);
    });
  }
});

Deno.test("parseWgQuick refuses what wg refuses, naming the line and not the value", async (t) => {
  const cases: [string, string, number][] = [
    ["an unknown key in [Peer]", `[Peer]\nPublicKey=${key("a")}\nEndpont=192.0.2.1:1\n`, 3],
    ["an empty Endpoint", `[Peer]\nPublicKey=${key("a")}\nEndpoint =\n`, 3],
    ["a line before any section", `Endpoint=192.0.2.1:1\n[Peer]\nPublicKey=${key("a")}\n`, 1],
    [
      "wg-quick's keys under a header wg-quick does not see",
      "[ Interface ]\nAddress=10.0.0.1/24\n",
      2,
    ],
    ["a no-break space, no space to wg", `[Peer]\nPublic\u00a0Key=${key("a")}\n`, 2],
  ];
  for (const [name, text, line] of cases) {
    await t.step(name, () => {
      assert.throws(() => parseWgQuick(text, "x.conf", "wg0"), (e: Error) => {
        assert.ok(e instanceof ParseError);
        assert.strictEqual(e.position.line, line);
        assert.ok(!e.message.includes("192.0.2.1"), e.message);
        return true;
      });
    });
  }
});

Deno.test("parseWgQuick reads SaveConfig as wg-quick does: in [Interface], any case", async (t) => {
  const cases: [string, string, boolean][] = [
    ["SaveConfig = true", "[Interface]\nSaveConfig = true\n", true],
    ["any case of the key", "[interface]\nsaveconfig=true\n", true],
    ["false", "[Interface]\nSaveConfig = false\n", false],
    // wg-quick's read_bool runs under nocasematch.
    ["TRUE", "[Interface]\nSaveConfig = TRUE\n", true],
    ["commented out", "[Interface]\n# SaveConfig = true\n", false],
  ];
  for (const [name, text, expected] of cases) {
    await t.step(
      name,
      () => assert.strictEqual(parseWgQuick(text, "x.conf", "wg0").saveConfig, expected),
    );
  }
  assert.throws(
    () => parseWgQuick("[Interface]\nSaveConfig = yes\n", "x.conf", "wg0"),
    /: x\.conf:2: SaveConfig: is neither true nor false$/,
  );
});

Deno.test("parseWgQuick reads endpoints set by PreUp and PostUp hooks, and flags the rest", async (t) => {
  const cases: [string, string, string[], number[]][] = [
    ["wg set %i", `PostUp = wg set %i peer ${key("a")} endpoint 192.0.2.1:51820`, [key("a")], []],
    [
      "two peers, the full path",
      `PreUp = /usr/bin/wg set wg0 peer ${key("a")} persistent-keepalive 25 endpoint h:1 ` +
      `peer ${key("b")} endpoint [2001:db8::1]:51820`,
      [key("a"), key("b")],
      [],
    ],
    ["after another command", `PostUp = ip link set up; wg set %i peer ${key("a")} endpoint h:1`, [
      key("a"),
    ], []],
    [
      "another interface's, which its own files protect",
      `PostUp = wg set wg1 peer ${key("a")} endpoint h:1`,
      [],
      [2],
    ],
    ["no endpoint", `PostUp = wg set %i peer ${key("a")} persistent-keepalive 25`, [], []],
    ["a variable", "PostUp = wg set %i peer $PEER endpoint h:1", [], [2]],
    ["addconf", "PostUp = wg addconf %i /etc/wireguard/more.conf", [], [2]],
    ["a tool that names endpoints", "PostUp = /usr/local/bin/set-endpoints %i", [], [2]],
    ["a hook about something else", "PostUp = iptables -A FORWARD -i %i -j ACCEPT", [], []],
    ["PostDown is not read", `PostDown = wg set %i peer ${key("a")} endpoint h:1`, [], []],
  ];
  for (const [name, hook, keys, unread] of cases) {
    await t.step(name, () => {
      const file = parseWgQuick(`[Interface]\n${hook}\n`, "x.conf", "wg0");
      assert.deepStrictEqual(
        file.peers.map((p) => [p.publicKey, p.hookLine]),
        keys.map((k) => [k, 2]),
      );
      assert.deepStrictEqual(file.unreadHooks, unread);
    });
  }
});

Deno.test("parseWgQuick names file and line of a bad key, without the secret", () => {
  const bad = CONF.replace(`PublicKey=${key("b")}`, "PublicKey = notakey");
  assert.throws(
    () => parseWgQuick(bad, "wg0.conf", "wg0"),
    (e: Error) =>
      e instanceof ParseError && e instanceof SyntaxError &&
      /^wg0\.conf:14: PublicKey: is not a WireGuard key$/.test(e.message),
  );
  assert.throws(
    () => parseWgQuick("[Peer]\nAllowedIPs = 10.0.0.0/8\n", "x.conf", "wg0"),
    /x\.conf:1: \[Peer\]: has no PublicKey/,
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

Deno.test("loadProtection calls a dangling symbolic link what it is", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.symlink(`${dir}/moved.conf`, `${dir}/wg7.conf`);
    const settings = resolveSettings([{
      source: "t",
      values: { wgQuickConfig: `${dir}/%i.conf` },
    }]);
    await assert.rejects(
      loadProtection(settings, "wg7"),
      /^ConfigError: wg-quick-config: .*wg7\.conf: is a symbolic link to nothing$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
