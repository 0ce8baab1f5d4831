import assert from "node:assert/strict";
import { parseNetplan, readNetplan } from "../../src/config/netplan.ts";
import { ConfigError, ParseError } from "../../src/common/errors.ts";
import { key } from "../support/peers.ts";

const SITE = key("a");
const PHONE = key("b");
const PRIVATE = key("z");
const SHARED = key("p");

const YAML = `# site links
network:
  version: 2
  ethernets:
    eth0: {dhcp4: true}
  tunnels:
    wg0:
      mode: wireguard
      key: ${PRIVATE}
      port: 51820
      addresses: [10.0.0.1/24]
      peers:
        - keys:
            public: ${SITE}
            shared: ${SHARED}
          endpoint: branch.example.net:51820
          allowed-ips: [10.1.0.0/24]
        - keys: {public: ${PHONE}}
          allowed-ips: [10.0.0.2/32]
          keepalive: 25
`;

/** Runs `body` with a fresh temp dir, removed afterwards. */
async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "netplan_test_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A tunnel `id` with `mode` and one peer per key, as a netplan file. */
function tunnel(id: string, keys: string[], mode = "wireguard"): string {
  const peers = keys.map((k) =>
    `        - keys: {public: ${k}}\n          endpoint: 192.0.2.1:1\n`
  );
  return `network:\n  tunnels:\n    ${id}:\n      mode: ${mode}\n      peers:\n${peers.join("")}`;
}

Deno.test("parseNetplan reads the peers of a wireguard tunnel, with where they are", () => {
  assert.deepStrictEqual(parseNetplan(YAML, "/etc/netplan/x.yaml"), {
    tunnels: [{
      id: "wg0",
      mode: "wireguard",
      peers: [
        {
          iface: "wg0",
          publicKey: SITE,
          endpointAt: "/etc/netplan/x.yaml:16",
          at: "/etc/netplan/x.yaml:13",
        },
        { iface: "wg0", publicKey: PHONE, endpointAt: null, at: "/etc/netplan/x.yaml:18" },
      ],
    }],
  });
});

Deno.test("parseNetplan keeps no private or preshared key", () => {
  const json = JSON.stringify(parseNetplan(YAML, "x.yaml"));
  assert.ok(!json.includes(PRIVATE));
  assert.ok(!json.includes(SHARED));
});

Deno.test("parseNetplan reads flow-style YAML", () => {
  const text = `{network: {tunnels: {wg1: {mode: wireguard, peers: [` +
    `{keys: {public: "${SITE}"}, endpoint: "[2001:db8::1]:51820"},\n` +
    `{keys: {public: '${PHONE}'}}]}}}}\n`;
  assert.deepStrictEqual(parseNetplan(text, "f.yaml").tunnels[0].peers, [
    { iface: "wg1", publicKey: SITE, endpointAt: "f.yaml:1", at: "f.yaml:1" },
    { iface: "wg1", publicKey: PHONE, endpointAt: null, at: "f.yaml:2" },
  ]);
});

Deno.test("parseNetplan accepts the endpoints netplan and networkd both accept", async (t) => {
  const cases = [
    "192.0.2.1:51820",
    '"[2001:db8::1]:51820"',
    "'[::ffff:192.0.2.1]:1'",
    "vpn.example.org:65535",
    "vpn:51820",
    "a-b.c0:443",
  ];
  for (const value of cases) {
    await t.step(value, () => {
      const text = YAML.replace("branch.example.net:51820", value);
      const [site] = parseNetplan(text, "x.yaml").tunnels[0].peers;
      assert.strictEqual(site.endpointAt, "x.yaml:16");
    });
  }
});

Deno.test("parseNetplan rejects a bad endpoint by file, line and field, not address", async (t) => {
  const cases: [string, string][] = [
    ["unbracketed IPv6", "2001:db8::1:51820"],
    ["no port", "198.51.100.7"],
    ["port 0", "198.51.100.7:0"],
    ["port above 65535", "198.51.100.7:65536"],
    ["a service name", "198.51.100.7:wireguard"],
    ["not IPv6 in brackets", '"[198.51.100.7]:51820"'],
    ["empty", '""'],
    ["a list", "[198.51.100.7:51820]"],
  ];
  for (const [name, value] of cases) {
    await t.step(name, () => {
      const text = YAML.replace("branch.example.net:51820", value);
      assert.throws(
        () => parseNetplan(text, "x.yaml"),
        (e: Error) => {
          assert.ok(e instanceof ParseError);
          assert.match(e.message, /^x\.yaml:16: network\.tunnels\.wg0\.peers\[0\]\.endpoint: /);
          assert.ok(!e.message.includes("198.51.100.7"), e.message);
          assert.ok(!e.message.includes("2001:db8"), e.message);
          assert.ok(!/bad_host|host\.example/.test(e.message), e.message);
          return true;
        },
      );
    });
  }
});

Deno.test("parseNetplan rejects a bad or missing field naming file, line and field", async (t) => {
  const cases: [string, string, string, RegExp][] = [
    [
      "a bad public key",
      `public: ${SITE}`,
      `public: ${SITE.slice(0, 40)}`,
      /^x\.yaml:14: network\.tunnels\.wg0\.peers\[0\]\.keys\.public: is not a WireGuard key/,
    ],
    [
      "a public key that is a list",
      `public: ${SITE}`,
      `public: [${SITE}]`,
      /^x\.yaml:14: network\.tunnels\.wg0\.peers\[0\]\.keys\.public: expected a string$/,
    ],
    [
      "no public key",
      `public: ${SITE}`,
      `private: ${SITE}`,
      /^x\.yaml:14: network\.tunnels\.wg0\.peers\[0\]\.keys\.public: missing$/,
    ],
    [
      "no keys",
      `- keys: {public: ${PHONE}}`,
      `- nokeys: {public: ${PHONE}}`,
      /^x\.yaml:18: network\.tunnels\.wg0\.peers\[1\]\.keys: missing$/,
    ],
    [
      "peers not a list",
      "      peers:\n        - keys:",
      "      peers:\n        x:\n        - keys:",
      /^x\.yaml:1[34]: network\.tunnels\.wg0\.peers: /,
    ],
    [
      "a tunnel ID that is no interface name",
      "    wg0:",
      "    wg0-with-a-too-long-name:",
      /^x\.yaml:7: network\.tunnels: is not a valid interface name \(/,
    ],
    [
      "a bad tunnel ID stays out of the message",
      "    wg0:\n      mode: wireguard",
      "    198.51.100.7:1: x\n    wg0:\n      mode: wireguard",
      /^x\.yaml:7: network\.tunnels\.\(ID\): expected a mapping$/,
    ],
    [
      "a tunnel that is no mapping",
      "    wg0:\n      mode: wireguard",
      "    wg1: x\n    wg0:\n      mode: wireguard",
      /^x\.yaml:7: network\.tunnels\.wg1: expected a mapping$/,
    ],
  ];
  for (const [name, from, to, expected] of cases) {
    await t.step(name, () => {
      const text = YAML.replace(from, to);
      assert.notStrictEqual(text, YAML);
      assert.throws(() => parseNetplan(text, "x.yaml"), (e: Error) => {
        assert.ok(e instanceof ParseError);
        assert.match(e.message, expected);
        assert.ok(!e.message.includes(SITE.slice(0, 20)), e.message);
        assert.ok(!e.message.includes("198.51"), e.message);
        return true;
      });
    });
  }
});

Deno.test("parseNetplan reports bad YAML with file, line and field, never the text", async (t) => {
  const cases: [string, string, RegExp][] = [
    [
      "an unterminated quote",
      `"${PRIVATE}`,
      // yaml finds the quote missing at the end of the text.
      /^x\.yaml:21: network\.tunnels\.wg0\.key: not valid YAML \(missing char\)$/,
    ],
    ["a bad indent", `${PRIVATE}\n     bad: [`, /^x\.yaml:\d+: (.*: )?not valid YAML \(/],
    ["a tab", `${PRIVATE}\n\t  x: 1`, /^x\.yaml:\d+: (.*: )?not valid YAML \(/],
  ];
  for (const [name, value, expected] of cases) {
    await t.step(name, () => {
      const text = YAML.replace(`key: ${PRIVATE}`, `key: ${value}`);
      assert.throws(() => parseNetplan(text, "x.yaml"), (e: Error) => {
        assert.ok(e instanceof ParseError);
        assert.match(e.message, expected);
        assert.ok(!e.message.includes(PRIVATE.slice(0, 20)), e.message);
        return true;
      });
    });
  }
  await t.step("no space after a key: the path ends before the text", () => {
    const text = YAML.replace("endpoint: branch.example.net:51820", "endpoint:203.0.113.9:51820");
    assert.throws(() => parseNetplan(text, "x.yaml"), (e: Error) => {
      assert.ok(e instanceof ParseError);
      assert.ok(!e.message.includes("203.0.113.9"), e.message);
      return true;
    });
  });
});

Deno.test("parseNetplan skips what is not a wireguard tunnel", async (t) => {
  const cases: [string, string][] = [
    ["no tunnels", "network:\n  version: 2\n  ethernets:\n    eth0: {dhcp4: true}\n"],
    ["an empty file", ""],
    ["only a comment", "# nothing yet\n"],
    ["only a document start", "---\n# nothing yet\n"],
    [
      "another mode, whatever its peers",
      "network:\n  tunnels:\n    gre1:\n      mode: gre\n" +
      "      peers: nonsense\n",
    ],
    ["mode is case-sensitive", tunnel("wg0", [SITE], "WireGuard")],
  ];
  for (const [name, text] of cases) {
    await t.step(name, () => {
      const peers = parseNetplan(text, "x.yaml").tunnels.flatMap((tn) => tn.peers);
      assert.deepStrictEqual(peers, []);
    });
  }
});

Deno.test("parseNetplan follows netplan on repeated keys, documents and aliases", async (t) => {
  await t.step("a repeated peers: key adds its peers", () => {
    const text = tunnel("wg0", [SITE]) + `      peers:\n        - keys: {public: ${PHONE}}\n`;
    const peers = parseNetplan(text, "x.yaml").tunnels[0].peers;
    assert.deepStrictEqual(peers.map((p) => [p.publicKey, p.at]), [
      [SITE, "x.yaml:6"],
      [PHONE, "x.yaml:9"],
    ]);
  });
  await t.step("the last mode wins", () => {
    const text = tunnel("wg0", [SITE], "gre") + "      mode: wireguard\n";
    assert.strictEqual(parseNetplan(text, "x.yaml").tunnels[0].mode, "wireguard");
  });
  await t.step("only the first document counts", () => {
    const text = tunnel("wg0", [SITE]) + "---\n" + tunnel("wg1", [PHONE]) + "---\n[\n";
    assert.deepStrictEqual(parseNetplan(text, "x.yaml").tunnels.map((tn) => tn.id), ["wg0"]);
  });
  await t.step("an alias stands for its anchor", () => {
    const text = `network:\n  tunnels:\n    wg0:\n      mode: wireguard\n      peers:\n` +
      `        - keys: {public: &k ${SITE}}\n          endpoint: &e vpn:1\n` +
      `        - keys: {public: *k}\n          endpoint: *e\n`;
    assert.deepStrictEqual(parseNetplan(text, "x.yaml").tunnels[0].peers, [
      { iface: "wg0", publicKey: SITE, endpointAt: "x.yaml:7", at: "x.yaml:6" },
      { iface: "wg0", publicKey: SITE, endpointAt: "x.yaml:9", at: "x.yaml:8" },
    ]);
  });
  await t.step("a tunnel without mode keeps its peers for another file to type", () => {
    const text = "network:\n  tunnels:\n    wg0:\n      peers:\n" +
      `        - keys: {public: ${SITE}}\n`;
    const [only] = parseNetplan(text, "x.yaml").tunnels;
    assert.strictEqual(only.mode, null);
    assert.strictEqual(only.peers.length, 1);
  });
});

Deno.test("readNetplan lets a higher directory's file shadow the same name below", async () => {
  await withDir(async (root) => {
    const [run, etc, lib] = ["run", "etc", "lib"].map((d) => `${root}/${d}`);
    for (const d of [run, etc, lib]) await Deno.mkdir(d);
    await Deno.writeTextFile(`${lib}/x.yaml`, tunnel("wg0", [key("c")]));
    await Deno.writeTextFile(`${etc}/x.yaml`, tunnel("wg0", [SITE]));
    await Deno.writeTextFile(`${lib}/y.yaml`, tunnel("wg1", [PHONE]));
    await Deno.writeTextFile(`${etc}/y.yaml`, "network: {tunnels: {wg1: [broken");
    await Deno.writeTextFile(`${run}/y.yaml`, "");
    assert.deepStrictEqual(await readNetplan([run, etc, lib]), [
      { iface: "wg0", publicKey: SITE, endpointAt: `${etc}/x.yaml:7`, at: `${etc}/x.yaml:6` },
    ]);
  });
});

Deno.test("readNetplan treats a link to /dev/null as an empty, masking file", async () => {
  await withDir(async (root) => {
    await Deno.mkdir(`${root}/etc`);
    await Deno.mkdir(`${root}/lib`);
    await Deno.writeTextFile(`${root}/lib/x.yaml`, tunnel("wg0", [SITE]));
    await Deno.symlink("/dev/null", `${root}/etc/x.yaml`);
    assert.deepStrictEqual(await readNetplan([`${root}/etc`, `${root}/lib`]), []);
  });
});

Deno.test("readNetplan merges a tunnel's files in strcmp order, appending all peers", async () => {
  await withDir(async (root) => {
    const [run, etc, lib] = ["run", "etc", "lib"].map((d) => `${root}/${d}`);
    for (const d of [run, etc, lib]) await Deno.mkdir(d);
    // strcmp puts "B" before "a"; the directory does not matter.
    await Deno.writeTextFile(`${lib}/a.yaml`, tunnel("wg0", [key("c")]));
    await Deno.writeTextFile(`${run}/B.yaml`, tunnel("wg0", [SITE]));
    // Same length as the peers before it: netplan would drop it, we keep it.
    await Deno.writeTextFile(
      `${etc}/c.yaml`,
      `network:\n  tunnels:\n    wg0:\n      peers:\n        - keys: {public: ${PHONE}}\n` +
        `          endpoint: vpn:1\n        - keys: {public: ${key("d")}}\n`,
    );
    // Typed in a later file: the peers before count.
    await Deno.writeTextFile(`${etc}/d.yaml`, tunnel("wg1", [key("e")], "gre"));
    await Deno.writeTextFile(`${etc}/e.yaml`, "network:\n  tunnels:\n    wg1:\n      mode: gre\n");
    await Deno.writeTextFile(
      `${lib}/f.yaml`,
      "network:\n  tunnels:\n    wg2:\n      peers:\n" + `        - keys: {public: ${key("f")}}\n`,
    );
    await Deno.writeTextFile(
      `${lib}/g.yaml`,
      "network:\n  tunnels:\n    wg2:\n      mode: wireguard\n",
    );
    // Not *.yaml as glob(3) matches it.
    await Deno.writeTextFile(`${etc}/h.yml`, tunnel("wg3", [key("g")]));
    await Deno.writeTextFile(`${etc}/.i.yaml`, tunnel("wg3", [key("g")]));
    await Deno.writeTextFile(`${etc}/j.yaml~`, tunnel("wg3", [key("g")]));
    const peers = await readNetplan([run, etc, lib, `${root}/missing`]);
    assert.deepStrictEqual(peers.map((p) => [p.iface, p.publicKey, p.at, p.endpointAt]), [
      ["wg0", SITE, `${run}/B.yaml:6`, `${run}/B.yaml:7`],
      ["wg0", key("c"), `${lib}/a.yaml:6`, `${lib}/a.yaml:7`],
      ["wg0", PHONE, `${etc}/c.yaml:5`, `${etc}/c.yaml:6`],
      ["wg0", key("d"), `${etc}/c.yaml:7`, null],
      ["wg2", key("f"), `${lib}/f.yaml:5`, null],
    ]);
  });
});

Deno.test("readNetplan reports a bad file as a ConfigError with path, line, field", async () => {
  await withDir(async (root) => {
    const path = `${root}/x.yaml`;
    await Deno.writeTextFile(path, YAML.replace(`public: ${SITE}`, "public: 198.51.100.7:1"));
    await assert.rejects(readNetplan([root]), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.ok(e.cause instanceof ParseError);
      assert.strictEqual(
        e.message,
        `${path}:14: network.tunnels.wg0.peers[0].keys.public: is not a WireGuard key ` +
          "(44 characters of base64 ending in '=')",
      );
      assert.strictEqual(e.exitCode, 2);
      return true;
    });
  });
});

Deno.test("readNetplan skips a missing directory and reports an unreadable one", async () => {
  await withDir(async (root) => {
    assert.deepStrictEqual(await readNetplan([`${root}/none`]), []);
    await Deno.writeTextFile(`${root}/file`, "");
    await assert.rejects(
      readNetplan([`${root}/file`]),
      (e: Error) => e instanceof ConfigError && e.message.startsWith(`${root}/file: `),
    );
    await Deno.mkdir(`${root}/dir/x.yaml`, { recursive: true });
    await assert.rejects(
      readNetplan([`${root}/dir`]),
      (e: Error) =>
        e instanceof ConfigError && e.message === `${root}/dir/x.yaml: cannot read netplan file: ` +
            "is a directory",
    );
  });
});
