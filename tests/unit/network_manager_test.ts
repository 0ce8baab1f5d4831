/**
 * The NetworkManager keyfile reader: GLib key-file syntax, the WireGuard
 * groups, and NM's rules for which file of a profile counts. Temporary
 * directories stand for /run, /etc and /usr/lib; the real ones are never read.
 */
import assert from "node:assert/strict";
import { ConfigError, ParseError } from "../../src/common/errors.ts";
import { parseKeyfile, readNetworkManager } from "../../src/config/network_manager.ts";

const ALICE = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
const BOB = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=";
const PRIVATE = "yCSo1UUx5qRsewccqys4aUey4SFzMbn591aKKi5JsnM=";
const PSK = "0fSXWgHWtWpcGMvsdmD0cyW15zzNJ8OMS3wKYJhHsig=";
const UUID = "6941c135-7dae-4588-824f-db4d8c288ec5";
const OTHER_UUID = "0b4a3c1e-2f5d-4e6a-9b7c-8d9e0f1a2b3c";

/** NM reads only root's files; the reader is told whose files stand for root's here. */
const OWN = { owner: Deno.uid()! };

/** A WireGuard profile: `[connection]`, `[wireguard]`, then `extra` as it is. */
function profile(
  { uuid = UUID, iface = "wg0", extra = "" }: { uuid?: string; iface?: string; extra?: string } =
    {},
): string {
  return [
    "[connection]",
    "id=site",
    `uuid=${uuid}`,
    "type=wireguard",
    `interface-name=${iface}`,
    "",
    "[wireguard]",
    `private-key=${PRIVATE}`,
    "listen-port=51820",
    "",
    "",
  ].join("\n") + extra;
}

/** The ParseError `fn` throws. */
function parseErrorOf(fn: () => unknown): ParseError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ParseError, String(error));
    return error;
  }
  assert.fail("expected a ParseError");
}

/** The three keyfile dirs in a temporary directory, highest priority first. */
async function nmDirs(): Promise<{ root: string; run: string; etc: string; lib: string }> {
  const root = await Deno.makeTempDir({ prefix: "nm-keyfiles-" });
  const [run, etc, lib] = ["run", "etc", "lib"].map((d) => `${root}/${d}`);
  for (const dir of [run, etc, lib]) await Deno.mkdir(dir);
  return { root, run, etc, lib };
}

/** Writes a keyfile as NM wants it (mode 0600), optionally with an mtime. */
async function writeKeyfile(path: string, text: string, mtime?: Date): Promise<void> {
  await Deno.writeTextFile(path, text, { mode: 0o600 });
  await Deno.chmod(path, 0o600);
  if (mtime !== undefined) await Deno.utime(path, mtime, mtime);
}

Deno.test("parseKeyfile reads each peer group, its header line and its endpoint line", () => {
  const text = profile({
    extra: [
      `[wireguard-peer.${ALICE}]`,
      "endpoint=vpn.example.org:51820",
      `preshared-key=${PSK}`,
      "preshared-key-flags=0",
      "allowed-ips=10.9.0.2/32;",
      "",
      `[wireguard-peer.${BOB}]`,
      "allowed-ips=10.9.0.3/32;",
      "",
    ].join("\n"),
  });
  const file = parseKeyfile(text, "site.nmconnection");
  assert.deepStrictEqual(file, {
    uuid: UUID,
    type: "wireguard",
    iface: "wg0",
    peers: [
      {
        iface: "wg0",
        publicKey: ALICE,
        endpointAt: "site.nmconnection:12",
        at: "site.nmconnection:11",
      },
      { iface: "wg0", publicKey: BOB, endpointAt: null, at: "site.nmconnection:17" },
    ],
  });
  // Never kept: the private and the preshared key.
  const kept = JSON.stringify(file);
  assert.ok(!kept.includes(PRIVATE) && !kept.includes(PSK));
});

Deno.test("parseKeyfile reads only wireguard profiles with an interface-name", async (t) => {
  const peer = `[wireguard-peer.${ALICE}]\nendpoint=192.0.2.1:51820\n`;
  const cases: [string, string, { type: string | null; iface: string | null; peers: number }][] = [
    ["a wireguard profile", profile({ extra: peer }), {
      type: "wireguard",
      iface: "wg0",
      peers: 1,
    }],
    [
      "an ethernet profile, even with a peer group that is no key",
      "[connection]\ntype=ethernet\ninterface-name=eth0\n[wireguard-peer.nokey]\nendpoint=x\n",
      { type: "ethernet", iface: null, peers: 0 },
    ],
    [
      "a wireguard profile without interface-name (NM cannot activate it by name)",
      `[connection]\nuuid=${UUID}\ntype=wireguard\n${peer}`,
      { type: "wireguard", iface: null, peers: 0 },
    ],
    [
      "a wireguard profile with an empty interface-name",
      profile({ iface: "", extra: peer }),
      { type: "wireguard", iface: null, peers: 0 },
    ],
    ["no [connection] group", peer, { type: null, iface: null, peers: 0 }],
  ];
  for (const [name, text, expected] of cases) {
    await t.step(name, () => {
      const file = parseKeyfile(text, "f.nmconnection");
      assert.deepStrictEqual(
        { type: file.type, iface: file.iface, peers: file.peers.length },
        expected,
      );
    });
  }
});

Deno.test("parseKeyfile matches group and key names case-sensitively", async (t) => {
  const cases: [string, string, string | null | "no peer"][] = [
    [
      "[Connection] is not [connection]",
      profile().replace("[connection]", "[Connection]"),
      "no peer",
    ],
    ["Type= is not type=", profile().replace("type=", "Type="), "no peer"],
    ["type=WireGuard is not wireguard", profile().replace("=wireguard", "=WireGuard"), "no peer"],
    [
      "[Wireguard-Peer.<key>] is no peer",
      profile({ extra: `[Wireguard-Peer.${ALICE}]\n` }),
      "no peer",
    ],
    [
      "Endpoint= is no endpoint",
      profile({ extra: `[wireguard-peer.${ALICE}]\nEndpoint=192.0.2.1:51820\n` }),
      null,
    ],
    [
      "endpoint= is the endpoint",
      profile({ extra: `[wireguard-peer.${ALICE}]\nendpoint=192.0.2.1:51820\n` }),
      "f:12",
    ],
  ];
  for (const [name, text, endpointAt] of cases) {
    await t.step(name, () => {
      const peers = parseKeyfile(text, "f").peers;
      if (endpointAt === "no peer") assert.deepStrictEqual(peers, []);
      else assert.strictEqual(peers[0].endpointAt, endpointAt);
    });
  }
});

Deno.test("parseKeyfile skips comments and blanks as GLib does", () => {
  const text = [
    "# written by hand",
    "[connection]",
    "   # an indented comment",
    `uuid=${UUID}`,
    "",
    "\t",
    "type = wireguard",
    "  interface-name\t=  wg0",
    `[wireguard-peer.${ALICE}]`,
    "#endpoint=192.0.2.9:51820",
    "  endpoint  =  192.0.2.1:51820",
    "",
  ].join("\r\n");
  assert.deepStrictEqual(parseKeyfile(text, "f").peers, [
    { iface: "wg0", publicKey: ALICE, endpointAt: "f:11", at: "f:9" },
  ]);
});

Deno.test("parseKeyfile keeps a mid-line # in the value, which makes the endpoint invalid", () => {
  const text = profile({ extra: `[wireguard-peer.${ALICE}]\nendpoint=192.0.2.1:51820 # office\n` });
  const error = parseErrorOf(() => parseKeyfile(text, "f.nmconnection"));
  assert.deepStrictEqual(error.position, { source: "f.nmconnection", line: 12, field: "endpoint" });
  assert.ok(!error.message.includes("192.0.2.1"), error.message);
});

Deno.test("parseKeyfile merges a repeated group and lets the last of a repeated key win", () => {
  const text = profile({
    extra: [
      `[wireguard-peer.${ALICE}]`,
      "endpoint=192.0.2.1:51820",
      "[ipv4]",
      "method=manual",
      `[wireguard-peer.${ALICE}]`,
      "endpoint=",
      `[wireguard-peer.${BOB}]`,
      "endpoint=192.0.2.2:51820",
      `[wireguard-peer.${BOB}]`,
      "endpoint=192.0.2.3:51820",
      "",
    ].join("\n"),
  });
  assert.deepStrictEqual(parseKeyfile(text, "f").peers, [
    // The header line is the group's first; an empty last endpoint is none.
    { iface: "wg0", publicKey: ALICE, endpointAt: null, at: "f:11" },
    { iface: "wg0", publicKey: BOB, endpointAt: "f:20", at: "f:17" },
  ]);
});

Deno.test("parseKeyfile reads GLib's escapes in values", async (t) => {
  const peerWith = (endpoint: string) =>
    profile({ extra: `[wireguard-peer.${ALICE}]\nendpoint=${endpoint}\n` });
  const ok: [string, string][] = [
    ["\\s before the endpoint keeps a blank NM strips", "\\s\\s192.0.2.1:51820"],
    ["\\n and \\t after it too", "[2001:db8::1]:51820\\n\\t"],
    ["\\r", "vpn.example.org:51820\\r"],
  ];
  for (const [name, endpoint] of ok) {
    await t.step(`${name}: valid`, () => {
      assert.strictEqual(parseKeyfile(peerWith(endpoint), "f").peers[0].endpointAt, "f:12");
    });
  }
  const bad: [string, string, string][] = [
    ["\\s inside the endpoint", peerWith("192.0.2.1\\s:51820"), "endpoint"],
    ["\\\\ is a backslash", peerWith("vpn\\\\x.example.org:51820"), "endpoint"],
    ["an unknown escape", peerWith("192.0.2.1:5182\\0"), "endpoint"],
    ["a trailing backslash", peerWith("192.0.2.1:51820\\"), "endpoint"],
    ["an unknown escape in interface-name", profile({ iface: "wg\\x30" }), "interface-name"],
  ];
  for (const [name, text, field] of bad) {
    await t.step(`${name}: error`, () => {
      const error = parseErrorOf(() => parseKeyfile(text, "f"));
      assert.strictEqual(error.position.field, field);
      assert.ok(!error.message.includes("192.0.2.1"), error.message);
    });
  }
  await t.step("type=wire\\sguard is not wireguard", () => {
    const text = profile().replace("type=wireguard", "type=wire\\sguard");
    assert.strictEqual(parseKeyfile(text, "f").type, "wire guard");
  });
});

Deno.test("parseKeyfile accepts endpoints host:port, a.b.c.d:port, [v6]:port", async (t) => {
  const valid = [
    "192.0.2.1:51820",
    "[2001:db8::1]:51820",
    "[fe80::1%eth0]:1",
    "vpn.example.org:65535",
    "vpn.example.org.:51820",
    "gateway:51820",
    // NetworkManager splits at the last colon.
    "2001:db8::1:51820",
  ];
  const invalid = [
    "192.0.2.1",
    "192.0.2.1:0",
    "192.0.2.1:65536",
    "192.0.2.1:123456",
    "[2001:db8::1]",
    "vpn.example.org:wireguard",
    "300.1.1.1:51820",
    '"192.0.2.1:51820"',
    ":51820",
    "vpn..example.org:51820",
    "-vpn.example.org:51820",
  ];
  for (const endpoint of valid) {
    await t.step(`${endpoint} is valid`, () => {
      const text = profile({ extra: `[wireguard-peer.${ALICE}]\nendpoint=${endpoint}\n` });
      assert.strictEqual(parseKeyfile(text, "f").peers[0].endpointAt, "f:12");
    });
  }
  for (const endpoint of invalid) {
    await t.step(`${endpoint} is an error that does not repeat it`, () => {
      const text = profile({ extra: `[wireguard-peer.${ALICE}]\nendpoint=${endpoint}\n` });
      const error = parseErrorOf(() => parseKeyfile(text, "f"));
      assert.deepStrictEqual(error.position, { source: "f", line: 12, field: "endpoint" });
      assert.ok(!error.message.includes(endpoint), error.message);
    });
  }
});

Deno.test("parseKeyfile refuses a wireguard-peer group named by no public key", async (t) => {
  // A near-key: right length, but the last character carries stray bits.
  const nearKey = `${PRIVATE.slice(0, 42)}n=`;
  const names = ["nokey", nearKey, `${ALICE} `, `${ALICE}x`, ""];
  for (const suffix of names) {
    await t.step(JSON.stringify(suffix), () => {
      const text = profile({ extra: `[wireguard-peer.${suffix}]\nendpoint=192.0.2.1:51820\n` });
      const error = parseErrorOf(() => parseKeyfile(text, "f.nmconnection"));
      assert.deepStrictEqual(error.position, {
        source: "f.nmconnection",
        line: 11,
        field: "wireguard-peer group",
      });
      assert.ok(!error.message.includes(PRIVATE.slice(0, 42)), error.message);
      assert.ok(!error.message.includes(ALICE), error.message);
    });
  }
});

Deno.test("parseKeyfile refuses an interface name the tool could not pass to wg", async (t) => {
  for (const iface of ["-wg0", "wg0123456789abcd", "wg 0", "wg/0"]) {
    await t.step(JSON.stringify(iface), () => {
      const error = parseErrorOf(() => parseKeyfile(profile({ iface }), "f"));
      assert.deepStrictEqual(error.position, { source: "f", line: 5, field: "interface-name" });
    });
  }
});

Deno.test("parseKeyfile refuses lines GLib refuses, naming file and line", async (t) => {
  const cases: [string, string, number][] = [
    ["a line that is no key=value, group or comment", "[connection]\ntype=ethernet\noops\n", 3],
    ["a key before any group", "type=wireguard\n[connection]\n", 1],
    ["an empty group name", "[connection]\n[]\n", 2],
    ["a group with text after ]", "[connection]\n[ipv4] x\n", 2],
    ["an unclosed group", "[connection\n", 1],
    ["a line starting with =", "[connection]\n=wireguard\n", 2],
    ["a key with ]", "[connection]\nty]pe=wireguard\n", 2],
    ["a byte-order mark (GLib does not skip one)", "\uFEFF[connection]\n", 1],
  ];
  for (const [name, text, line] of cases) {
    await t.step(name, () => {
      const error = parseErrorOf(() => parseKeyfile(text, "/x/f.nmconnection"));
      assert.strictEqual(error.position.line, line);
      assert.ok(error.message.startsWith(`/x/f.nmconnection:${line}:`), error.message);
    });
  }
  await t.step("a key with a [locale] suffix is a key", () => {
    assert.strictEqual(parseKeyfile("[connection]\nid[de]=x\n", "f").type, null);
  });
});

Deno.test("parseKeyfile never repeats a key or an address in an error", async (t) => {
  const cases: [string, string][] = [
    ["bad endpoint", profile({ extra: `[wireguard-peer.${ALICE}]\nendpoint=${PRIVATE}:0\n` })],
    ["private key as group name", profile({ extra: `[wireguard-peer.${PRIVATE}x]\n` })],
    // A whole key ends in `=`, which would make the line a key=value pair.
    ["garbage line holding a key", profile({ extra: `${PSK.slice(0, 43)}\n` })],
    ["bad group holding a key", `[connection]\n[${PSK}[]\n`],
  ];
  for (const [name, text] of cases) {
    await t.step(name, () => {
      const error = parseErrorOf(() => parseKeyfile(text, "f"));
      for (const secret of [PRIVATE, PSK, ALICE]) {
        assert.ok(!error.message.includes(secret.slice(0, 12)), error.message);
      }
    });
  }
});

Deno.test("readNetworkManager returns the peers of root's 0600 keyfiles", async () => {
  const { root, run, etc, lib } = await nmDirs();
  try {
    const peerA = `[wireguard-peer.${ALICE}]\nendpoint=192.0.2.1:51820\n`;
    await writeKeyfile(`${etc}/site.nmconnection`, profile({ extra: peerA }));
    await writeKeyfile(
      `${lib}/other.nmconnection`,
      profile({ uuid: OTHER_UUID, iface: "wg1", extra: `[wireguard-peer.${BOB}]\n` }),
    );
    assert.deepStrictEqual(await readNetworkManager([run, etc, lib], OWN), [
      {
        iface: "wg0",
        publicKey: ALICE,
        endpointAt: `${etc}/site.nmconnection:12`,
        at: `${etc}/site.nmconnection:11`,
      },
      { iface: "wg1", publicKey: BOB, endpointAt: null, at: `${lib}/other.nmconnection:11` },
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("readNetworkManager skips files NM would not read", async (t) => {
  const { root, etc } = await nmDirs();
  try {
    const text = profile({ extra: `[wireguard-peer.${ALICE}]\nendpoint=192.0.2.1:51820\n` });
    const cases: [string, string, (path: string) => Promise<void>][] = [
      ["mode 0644", "site.nmconnection", (p) => Deno.chmod(p, 0o644)],
      ["mode 0640", "site.nmconnection", (p) => Deno.chmod(p, 0o640)],
      ["mode 0602", "site.nmconnection", (p) => Deno.chmod(p, 0o602)],
      ["a hidden file", ".site.nmconnection", async () => {}],
      ["the bare suffix", ".nmconnection", async () => {}],
      ["a backup", "site.nmconnection~", async () => {}],
      ["a package manager's copy", "site.nmconnection.dpkg-old", async () => {}],
      ["mkstemp's temporary file", "site.nmconnection.Ab12Cd", async () => {}],
      ["a certificate", "site.pem", async () => {}],
    ];
    for (const [name, file, spoil] of cases) {
      await t.step(name, async () => {
        const path = `${etc}/${file}`;
        await writeKeyfile(path, text);
        await spoil(path);
        try {
          assert.deepStrictEqual(await readNetworkManager([etc], OWN), []);
        } finally {
          await Deno.remove(path);
        }
      });
    }
    await t.step("a name without the suffix, as NM reads in /etc", async () => {
      await writeKeyfile(`${etc}/site`, text);
      assert.strictEqual((await readNetworkManager([etc], OWN)).length, 1);
      await Deno.remove(`${etc}/site`);
    });
    await t.step("a symlink to a 0600 file is followed, as NM's stat does", async () => {
      await writeKeyfile(`${root}/target`, text);
      await Deno.symlink(`${root}/target`, `${etc}/link.nmconnection`);
      assert.strictEqual((await readNetworkManager([etc], OWN)).length, 1);
      await Deno.remove(`${etc}/link.nmconnection`);
    });
    await t.step("a dangling symlink is skipped", async () => {
      await Deno.symlink(`${root}/missing`, `${etc}/dangling.nmconnection`);
      assert.deepStrictEqual(await readNetworkManager([etc], OWN), []);
      await Deno.remove(`${etc}/dangling.nmconnection`);
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("readNetworkManager skips a file root does not own", async () => {
  const root = await Deno.makeTempDir({ prefix: "nm-keyfiles-" });
  try {
    await writeKeyfile(`${root}/site.nmconnection`, profile());
    // As root, the file is given away; otherwise it is the tester's already.
    if (Deno.uid() === 0) await Deno.chown(`${root}/site.nmconnection`, 65534, 65534);
    assert.deepStrictEqual(await readNetworkManager([root]), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("readNetworkManager skips directories that do not exist", async () => {
  const root = await Deno.makeTempDir({ prefix: "nm-keyfiles-" });
  try {
    assert.deepStrictEqual(await readNetworkManager([`${root}/run`, `${root}/etc`], OWN), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("readNetworkManager lets one file per UUID count, by directory, mtime and name", async (t) => {
  const old = new Date("2024-01-01T00:00:00Z");
  const newer = new Date("2024-06-01T00:00:00Z");
  /** A profile of UUID whose one peer's key tells which file won. */
  const marked = (key: string, uuid = UUID) =>
    profile({ uuid, extra: `[wireguard-peer.${key}]\nendpoint=192.0.2.1:51820\n` });
  const cases: {
    name: string;
    files: [dir: "run" | "etc" | "lib", name: string, text: string, mtime?: Date][];
    winners: string[];
  }[] = [
    {
      name: "/run beats /etc, even when older",
      files: [["run", "a.nmconnection", marked(ALICE), old], [
        "etc",
        "a.nmconnection",
        marked(BOB),
        newer,
      ]],
      winners: [ALICE],
    },
    {
      name: "/etc beats /usr/lib",
      files: [["etc", "x.nmconnection", marked(BOB)], ["lib", "y.nmconnection", marked(ALICE)]],
      winners: [BOB],
    },
    {
      name: "the UUID is compared regardless of case",
      files: [["etc", "x.nmconnection", marked(BOB)], [
        "lib",
        "y.nmconnection",
        marked(ALICE, UUID.toUpperCase()),
      ]],
      winners: [BOB],
    },
    {
      name: "in one directory the newer mtime wins",
      files: [["etc", "a.nmconnection", marked(ALICE), old], [
        "etc",
        "b.nmconnection",
        marked(BOB),
        newer,
      ]],
      winners: [BOB],
    },
    {
      name: "in one directory with equal mtimes the smaller name wins",
      files: [["etc", "b.nmconnection", marked(BOB), old], [
        "etc",
        "a.nmconnection",
        marked(ALICE),
        old,
      ]],
      winners: [ALICE],
    },
    {
      name: "a non-wireguard profile of the UUID shadows a wireguard one",
      files: [["run", "a.nmconnection", `[connection]\nuuid=${UUID}\ntype=ethernet\n`], [
        "etc",
        "a.nmconnection",
        marked(BOB),
      ]],
      winners: [],
    },
    {
      name: "different UUIDs all count",
      files: [["run", "a.nmconnection", marked(ALICE)], [
        "etc",
        "b.nmconnection",
        marked(BOB, OTHER_UUID),
      ]],
      winners: [ALICE, BOB],
    },
    {
      name: "files without a UUID all count",
      files: [
        ["run", "a.nmconnection", marked(ALICE).replace(/^uuid=.*\n/m, "")],
        ["etc", "a.nmconnection", marked(BOB).replace(/^uuid=.*\n/m, "")],
      ],
      winners: [ALICE, BOB],
    },
  ];
  for (const { name, files, winners } of cases) {
    await t.step(name, async () => {
      const dirs = await nmDirs();
      try {
        for (const [dir, file, text, mtime] of files) {
          await writeKeyfile(`${dirs[dir]}/${file}`, text, mtime);
        }
        const peers = await readNetworkManager([dirs.run, dirs.etc, dirs.lib], OWN);
        assert.deepStrictEqual(peers.map((p) => p.publicKey), winners);
      } finally {
        await Deno.remove(dirs.root, { recursive: true });
      }
    });
  }
});

Deno.test("readNetworkManager honours <uuid>.nmmeta tombstones in their dir and below", async (t) => {
  const marked = (key: string) =>
    profile({ extra: `[wireguard-peer.${key}]\nendpoint=192.0.2.1:51820\n` });
  const cases: {
    name: string;
    tombstone: "run" | "etc" | "lib";
    target?: string;
    files: ["run" | "etc" | "lib", string][];
    winners: string[];
  }[] = [
    {
      name: "hides the profile in /usr/lib",
      tombstone: "etc",
      files: [["lib", ALICE]],
      winners: [],
    },
    {
      name: "hides the profile in its own dir",
      tombstone: "etc",
      files: [["etc", ALICE]],
      winners: [],
    },
    {
      name: "does not hide the profile in a higher dir",
      tombstone: "etc",
      files: [["run", BOB], ["lib", ALICE]],
      winners: [BOB],
    },
    {
      name: "a symlink elsewhere is no tombstone",
      tombstone: "etc",
      target: "/dev/zero",
      files: [["lib", ALICE]],
      winners: [ALICE],
    },
  ];
  for (const { name, tombstone, target = "/dev/null", files, winners } of cases) {
    await t.step(name, async () => {
      const dirs = await nmDirs();
      try {
        await Deno.symlink(target, `${dirs[tombstone]}/${UUID}.nmmeta`);
        for (const [dir, key] of files) {
          await writeKeyfile(`${dirs[dir]}/p.nmconnection`, marked(key));
        }
        const peers = await readNetworkManager([dirs.run, dirs.etc, dirs.lib], OWN);
        assert.deepStrictEqual(peers.map((p) => p.publicKey), winners);
      } finally {
        await Deno.remove(dirs.root, { recursive: true });
      }
    });
  }
});

Deno.test("readNetworkManager reports a bad keyfile as a ConfigError naming file:line and field", async () => {
  const root = await Deno.makeTempDir({ prefix: "nm-keyfiles-" });
  try {
    const path = `${root}/site.nmconnection`;
    await writeKeyfile(
      path,
      profile({ extra: `[wireguard-peer.${ALICE}]\nendpoint=198.51.100.7:51820 # office\n` }),
    );
    await assert.rejects(readNetworkManager([root], OWN), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.strictEqual(error.exitCode, 2);
      assert.ok(error.message.startsWith(`${path}:12: endpoint: `), error.message);
      assert.ok(error.cause instanceof ParseError);
      for (const secret of ["198.51.100.7", ALICE, PRIVATE]) {
        assert.ok(!error.message.includes(secret), error.message);
      }
      return true;
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("readNetworkManager reports a keyfile dir that is no directory, naming it", async () => {
  const root = await Deno.makeTempDir({ prefix: "nm-keyfiles-" });
  try {
    const path = `${root}/system-connections`;
    await Deno.writeTextFile(path, "");
    await assert.rejects(readNetworkManager([path], OWN), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.ok(error.message.startsWith(`${path}: `), error.message);
      return true;
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
