import assert from "node:assert/strict";
import {
  interpretNetdev,
  type NetdevSection,
  parseNetdev,
  readNetworkd,
} from "../../src/config/networkd.ts";
import { ConfigError, ParseError } from "../../src/common/errors.ts";

/** A fresh random WireGuard key. */
function newKey(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

const PRIV = newKey();
const A = newKey();
const B = newKey();
const C = newKey();
const D = newKey();

/** A WireGuard netdev named `name` with the given peer sections appended. */
function wgNetdev(name: string, ...peers: string[]): string {
  return `[NetDev]\nName=${name}\nKind=wireguard\n\n[WireGuard]\nPrivateKey=${PRIV}\n\n` +
    peers.join("\n");
}

function peer(key: string, endpoint?: string): string {
  return `[WireGuardPeer]\nPublicKey=${key}\n` +
    (endpoint === undefined ? "" : `Endpoint=${endpoint}\n`);
}

/** The netdev of one file's text. */
function netdevOf(text: string, source = "x.netdev") {
  return interpretNetdev(parseNetdev([{ source, text }]));
}

/** Four temporary directories standing for /etc, /run, /usr/local/lib and /usr/lib. */
async function withDirs(fn: (dirs: string[], root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "networkd_test_" });
  try {
    const dirs = ["etc", "run", "usr-local-lib", "usr-lib"].map((d) => `${root}/${d}`);
    await fn(dirs, root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function put(path: string, text: string): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, text);
}

async function nullLink(path: string): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.symlink("/dev/null", path);
}

/** `[name]: key=value …` of each section, secrets as their shape. */
function summary(sections: NetdevSection[]): string[] {
  return sections.map((s) =>
    `${s.source}:${s.line} [${s.name}] ` +
    s.entries.map((e) => `${e.key}@${e.line}=${"value" in e ? e.value : `<${e.secret}>`}`)
      .join(" ")
  );
}

Deno.test("parseNetdev reads systemd's unit-file syntax", async (t) => {
  const cases: [string, string, string[]][] = [
    ["sections, keys and values trimmed", "[A]\n  k = v w  \n\tx=\n", [
      "f:1 [A] k@2=v w x@3=",
    ]],
    ["a byte-order mark at the start is dropped", "\uFEFF[A]\nk=v\n", ["f:1 [A] k@2=v"]],
    ["# and ; whole-line comments", "[A]\n# k=1\n  ; k=2\nk=3\n", ["f:1 [A] k@4=3"]],
    ["no inline comments", "[A]\nk=v # c\nj=w ; d\n", ["f:1 [A] k@2=v # c j@3=w ; d"]],
    ["split at the first =", "[A]\nk==a=b\n", ["f:1 [A] k@2==a=b"]],
    ["continuation joined with a space", "[A]\nk=a\\\n  b\\\nc\nj=d\n", [
      "f:1 [A] k@2=a   b c j@5=d",
    ]],
    ["comment lines inside a continuation skipped", "[A]\nk=a \\\n# x\n; y\nb\n", [
      "f:1 [A] k@2=a  b",
    ]],
    ["an escaped backslash does not continue", "[A]\nk=a\\\\\nj=b\n", [
      "f:1 [A] k@2=a\\\\ j@3=b",
    ]],
    ["a continuation at the end of the file", "[A]\nk=a\\", ["f:1 [A] k@2=a"]],
    ["CRLF and CR line ends", "[A]\r\nk=v\r\rj=w\r\n", ["f:1 [A] k@2=v j@4=w"]],
    ["keys before any section and lines without = ignored", "k=v\n[A]\njunk\nk=v\n", [
      "f:2 [A] k@4=v",
    ]],
    ["names kept case-sensitive and as written, repeats kept", "[a]\n[ A ]\n[A]\nK=1\n", [
      "f:1 [a] ",
      "f:2 [ A ] ",
      "f:3 [A] K@4=1",
    ]],
  ];
  for (const [name, text, expected] of cases) {
    await t.step(name, () => {
      assert.deepStrictEqual(summary(parseNetdev([{ source: "f", text }])), expected);
    });
  }
  await t.step("each file starts outside any section, drop-ins follow the main file", () => {
    const sections = parseNetdev([
      { source: "main", text: "[A]\nk=1\n" },
      { source: "d1", text: "k=2\n[B]\nk=3\n" },
    ]);
    assert.deepStrictEqual(summary(sections), ["main:1 [A] k@2=1", "d1:2 [B] k@3=3"]);
  });
  await t.step("secrets keep only their shape", () => {
    const text = `[WireGuard]\nPrivateKey=${PRIV}\nPrivateKey=\nPrivateKey=x\n` +
      `PrivateKey=${"A".repeat(43)}=\n[WireGuardPeer]\nPresharedKey=${A}\nPublicKey=${B}\n`;
    const sections = parseNetdev([{ source: "f", text }]);
    assert.deepStrictEqual(summary(sections), [
      "f:1 [WireGuard] PrivateKey@2=<key> PrivateKey@3=<empty> PrivateKey@4=<invalid> " +
      "PrivateKey@5=<zero>",
      `f:6 [WireGuardPeer] PresharedKey@7=<key> PublicKey@8=${B}`,
    ]);
    assert.ok(!JSON.stringify(sections).includes(PRIV));
    assert.ok(!JSON.stringify(sections).includes(A));
  });
});

Deno.test("parseNetdev refuses a section header without its closing bracket", () => {
  assert.throws(
    () => parseNetdev([{ source: "ok", text: "[A]\n" }, { source: "d.conf", text: "\n[A\n" }]),
    (e: Error) =>
      e instanceof ParseError && e.message === "d.conf:2: section header has no closing ']'",
  );
});

Deno.test("interpretNetdev finds peers and their configured endpoints", () => {
  const text = wgNetdev("wg0", peer(A, "192.0.2.1:51820"), peer(B), peer(C, "[2001:db8::1]:1"));
  assert.deepStrictEqual(netdevOf(text), {
    kind: "wireguard",
    name: "wg0",
    peers: [
      { iface: "wg0", publicKey: A, endpointAt: "x.netdev:10", at: "x.netdev:8" },
      { iface: "wg0", publicKey: B, endpointAt: null, at: "x.netdev:12" },
      { iface: "wg0", publicKey: C, endpointAt: "x.netdev:17", at: "x.netdev:15" },
    ],
    conditional: false,
  });
  assert.strictEqual(netdevOf(`[Match]\nHost=a\n${text}`).conditional, true);
});

Deno.test("interpretNetdev follows networkd's meaning of keys", async (t) => {
  const noKey = `[NetDev]\nName=wg0\nKind=wireguard\n${peer(A, "192.0.2.1:1")}`;
  // [name, text, expected kind, name, peers as `key endpointAt` or null]
  const cases: [string, string, string | null, string | null, string[] | null][] = [
    [
      "other kinds are skipped unchecked",
      "[NetDev]\nName=br0\nKind=bridge\n" +
      "[WireGuard]\nPrivateKey=x\n[WireGuardPeer]\nPublicKey=bad\nEndpoint=bad",
      "bridge",
      "br0",
      null,
    ],
    ["an unknown kind is ignored", "[NetDev]\nName=x\nKind=Wireguard\n", null, "x", null],
    [
      "the first known kind wins",
      wgNetdev("wg0").replace(
        "Kind=wireguard",
        "Kind=foo\nKind=bridge\nKind=wireguard",
      ),
      "bridge",
      "wg0",
      null,
    ],
    ["no private key: ignored by networkd", noKey, "wireguard", "wg0", null],
    [
      "the all-zero private key is none",
      wgNetdev("wg0", peer(A)).replace(
        PRIV,
        `${"A".repeat(43)}=`,
      ),
      "wireguard",
      "wg0",
      null,
    ],
    [
      "an empty PrivateKey= clears it",
      wgNetdev("wg0", peer(A)).replace(
        `PrivateKey=${PRIV}`,
        `PrivateKey=${PRIV}\nPrivateKey=`,
      ),
      "wireguard",
      "wg0",
      null,
    ],
    [
      "PrivateKeyFile= is enough (not read)",
      noKey.replace(
        "[WireGuardPeer]",
        "[WireGuard]\nPrivateKeyFile=/nonexistent/key\n[WireGuardPeer]",
      ),
      "wireguard",
      "wg0",
      [`${A} x.netdev:8`],
    ],
    [
      "[wireguardpeer] and endpoint= are not networkd's",
      wgNetdev(
        "wg0",
        `[wireguardpeer]\nPublicKey=bad\n[WireGuardPeer]\nPublicKey=${A}\nendpoint=192.0.2.1:1\n`,
      ),
      "wireguard",
      "wg0",
      [`${A} null`],
    ],
    [
      "a lower-case kind key is not Kind=",
      "[NetDev]\nName=wg0\nkind=wireguard\n",
      null,
      "wg0",
      null,
    ],
    [
      "the last PublicKey= and the last non-empty Endpoint= win",
      wgNetdev(
        "wg0",
        `[WireGuardPeer]\nPublicKey=${B}\nEndpoint=192.0.2.1:1\nEndpoint=h.example:2\n` +
          `Endpoint=\nPublicKey=${A}\n`,
      ),
      "wireguard",
      "wg0",
      [`${A} x.netdev:11`],
    ],
    [
      "the last Name= wins",
      wgNetdev("wg0").replace("Name=wg0", "Name=wg9\nName=wg0"),
      "wireguard",
      "wg0",
      [],
    ],
    [
      "repeated [NetDev] sections merge",
      "[NetDev]\nKind=wireguard\n[WireGuard]\n" +
      `PrivateKey=${PRIV}\n[NetDev]\nName=wg1\n`,
      "wireguard",
      "wg1",
      [],
    ],
  ];
  for (const [name, text, kind, iface, peers] of cases) {
    await t.step(name, () => {
      const netdev = netdevOf(text);
      assert.deepStrictEqual(
        {
          kind: netdev.kind,
          name: netdev.name,
          peers: netdev.peers?.map((p) => `${p.publicKey} ${p.endpointAt}`) ?? null,
        },
        { kind, name: iface, peers },
      );
    });
  }
});

Deno.test("interpretNetdev accepts networkd's endpoint forms", async (t) => {
  for (
    const endpoint of [
      "192.0.2.1:51820",
      "[2001:db8::1]:1",
      "[::ffff:192.0.2.1]:65535",
      "vpn.example.org:51820",
      "vpn.example.org.:51820",
      "gateway:443",
    ]
  ) {
    await t.step(endpoint, () => {
      assert.equal(
        netdevOf(wgNetdev("wg0", peer(A, endpoint))).peers?.[0].endpointAt,
        "x.netdev:10",
      );
    });
  }
});

Deno.test("interpretNetdev errors name file:line and field, not the key or address", async (t) => {
  const badKey = newKey().slice(0, 40) + "!!!=";
  // [name, text, message, secret that must not appear]
  const cases: [string, string, RegExp, string][] = [
    [
      "an invalid PublicKey",
      wgNetdev("wg0", peer(badKey)),
      /^x\.netdev:9: PublicKey: is not a WireGuard key/,
      badKey,
    ],
    [
      "a missing PublicKey",
      wgNetdev("wg0", "[WireGuardPeer]\nEndpoint=192.0.2.1:1\n"),
      /^x\.netdev:8: PublicKey: \[WireGuardPeer\] has no PublicKey=$/,
      "192.0.2.1",
    ],
    [
      "an emptied PublicKey",
      wgNetdev("wg0", peer(A) + "PublicKey=\n"),
      /^x\.netdev:8: PublicKey: /,
      A,
    ],
    [
      "the all-zero PublicKey",
      wgNetdev("wg0", peer(`${"A".repeat(43)}=`)),
      /^x\.netdev:9: PublicKey: is the all-zero key/,
      "AAAAAAAA",
    ],
    [
      "a # after an Endpoint is no comment",
      wgNetdev("wg0", peer(A, "192.0.2.77:51820 # office")),
      /^x\.netdev:10: Endpoint: expected /,
      "192.0.2.77",
    ],
    [
      "an unbracketed IPv6 Endpoint",
      wgNetdev("wg0", peer(A, "2001:db8::77:51820")),
      /^x\.netdev:10: Endpoint: /,
      "2001:db8::77",
    ],
    ["port 0", wgNetdev("wg0", peer(A, "192.0.2.77:0")), /^x\.netdev:10: Endpoint: /, "192.0.2.77"],
    [
      "port 65536",
      wgNetdev("wg0", peer(A, "192.0.2.77:65536")),
      /^x\.netdev:10: Endpoint: /,
      "192.0.2.77",
    ],
    [
      "a service name",
      wgNetdev("wg0", peer(A, "vpn77.example:wireguard")),
      /^x\.netdev:10: Endpoint: /,
      "vpn77",
    ],
    [
      "a bad IPv6 address",
      wgNetdev("wg0", peer(A, "[2001:db8:::77]:1")),
      /^x\.netdev:10: Endpoint: /,
      "db8",
    ],
    [
      "a quoted Endpoint",
      wgNetdev("wg0", peer(A, '"192.0.2.77:1"')),
      /^x\.netdev:10: Endpoint: /,
      "192.0.2.77",
    ],
    [
      "an Endpoint split by a continuation",
      wgNetdev("wg0", peer(A, "192.0.2.77:\\\n51820")),
      /^x\.netdev:10: Endpoint: /,
      "192.0.2.77",
    ],
    [
      "a bad Name",
      wgNetdev("-wg0secret"),
      /^x\.netdev:2: Name: is not a valid interface name/,
      "-wg0secret",
    ],
    [
      "a missing Name",
      wgNetdev("wg0").replace("Name=wg0", "Name="),
      /^x\.netdev:3: Name: a Kind=wireguard netdev has no Name=$/,
      "\0",
    ],
    [
      "a bad PrivateKey",
      wgNetdev("wg0").replace(PRIV, badKey),
      /^x\.netdev:6: PrivateKey: is not a WireGuard key/,
      badKey,
    ],
    [
      "a relative PrivateKeyFile",
      wgNetdev("wg0").replace(`PrivateKey=${PRIV}`, "PrivateKeyFile=keys/wg0"),
      /^x\.netdev:6: PrivateKeyFile: is not an absolute path$/,
      "keys/wg0",
    ],
  ];
  for (const [name, text, message, secret] of cases) {
    await t.step(name, () => {
      assert.throws(() => netdevOf(text), (e: Error) => {
        assert.ok(e instanceof ParseError, String(e));
        assert.match(e.message, message);
        assert.ok(!e.message.includes(secret), e.message);
        return true;
      });
    });
  }
});

Deno.test("readNetworkd honours precedence and masking", async () => {
  await withDirs(async ([etc, run, usrLocal, usr]) => {
    // The same name in several dirs: only the highest-priority one is read.
    await put(`${usr}/30-wg.netdev`, wgNetdev("wg3", peer(A, "192.0.2.1:1")));
    await put(`${run}/30-wg.netdev`, wgNetdev("wg3", peer(B, "192.0.2.2:2")));
    // Masked by an empty file, and by a symlink to /dev/null.
    await put(`${usr}/40-wg.netdev`, wgNetdev("wg4", peer(A)));
    await put(`${etc}/40-wg.netdev`, "");
    await put(`${usrLocal}/50-wg.netdev`, wgNetdev("wg5", peer(A)));
    await nullLink(`${etc}/50-wg.netdev`);
    // Order is by basename, whatever the dir.
    await put(`${usr}/10-wg.netdev`, wgNetdev("wg1", peer(C)));
    await put(`${etc}/20-wg.netdev`, wgNetdev("wg2", peer(C)));
    // Not netdevs: hidden, another suffix, a directory, a dangling symlink.
    await put(`${etc}/.60-wg.netdev`, wgNetdev("wg6", peer(A)));
    await put(`${etc}/60-wg.netdev~`, wgNetdev("wg6", peer(A)));
    await put(`${etc}/60-wg.network`, wgNetdev("wg6", peer(A)));
    await Deno.mkdir(`${etc}/61-wg.netdev`);
    await Deno.symlink(`${etc}/gone`, `${etc}/62-wg.netdev`);
    const peers = await readNetworkd([etc, run, usrLocal, usr]);
    assert.deepStrictEqual(peers.map((p) => `${p.iface} ${p.publicKey} ${p.endpointAt}`), [
      `wg1 ${C} null`,
      `wg2 ${C} null`,
      `wg3 ${B} ${run}/30-wg.netdev:10`,
    ]);
  });
});

Deno.test("readNetworkd merges drop-ins from every directory", async () => {
  await withDirs(async ([etc, run, usrLocal, usr]) => {
    await put(`${usr}/10-wg.netdev`, wgNetdev("wg0", peer(A, "192.0.2.1:1")));
    // A drop-in from another dir adds a peer.
    await put(`${etc}/10-wg.netdev.d/20-peer.conf`, peer(B));
    // Drop-ins are parsed in basename order, whatever their dir: the last Name= wins.
    await put(`${run}/10-wg.netdev.d/10-first.conf`, "[NetDev]\nName=wg9\n");
    await put(`${usrLocal}/10-wg.netdev.d/30-last.conf`, "[NetDev]\nName=wg0\n");
    // A drop-in masked by a higher-priority /dev/null link, another by an empty file.
    await put(`${usr}/10-wg.netdev.d/40-masked.conf`, peer(C, "192.0.2.3:3"));
    await nullLink(`${etc}/10-wg.netdev.d/40-masked.conf`);
    await put(`${usr}/10-wg.netdev.d/50-masked.conf`, peer(C));
    await put(`${run}/10-wg.netdev.d/50-masked.conf`, "");
    // Same-named drop-ins: the higher-priority one wins.
    await put(`${usr}/10-wg.netdev.d/60-ep.conf`, `${peer(C)}Endpoint=192.0.2.6:6\n`);
    await put(`${run}/10-wg.netdev.d/60-ep.conf`, `${peer(C)}Endpoint=\nEndpoint=h.example:7\n`);
    // Not a drop-in: another suffix.
    await put(`${etc}/10-wg.netdev.d/70-x.conf.bak`, peer(C));
    const peers = await readNetworkd([etc, run, usrLocal, usr]);
    assert.deepStrictEqual(peers.map((p) => `${p.iface} ${p.publicKey} ${p.at} ${p.endpointAt}`), [
      `wg0 ${A} ${usr}/10-wg.netdev:8 ${usr}/10-wg.netdev:10`,
      `wg0 ${B} ${etc}/10-wg.netdev.d/20-peer.conf:1 null`,
      `wg0 ${C} ${run}/10-wg.netdev.d/60-ep.conf:1 ${run}/10-wg.netdev.d/60-ep.conf:4`,
    ]);
  });
});

Deno.test("readNetworkd lets a same-named drop-in override an Endpoint", async () => {
  await withDirs(async ([etc, run, usrLocal, usr]) => {
    // The main file without the peer; the drop-in carries the peer with its endpoint.
    await put(`${usr}/10-wg.netdev`, wgNetdev("wg0"));
    await put(`${usr}/10-wg.netdev.d/peer.conf`, peer(A, "192.0.2.1:1"));
    await put(`${etc}/10-wg.netdev.d/peer.conf`, peer(A, "192.0.2.2:2"));
    const peers = await readNetworkd([etc, run, usrLocal, usr]);
    assert.deepStrictEqual(peers.map((p) => p.endpointAt), [`${etc}/10-wg.netdev.d/peer.conf:3`]);
  });
});

Deno.test("readNetworkd lets the first netdev in basename order without a [Match] claim a Name", async () => {
  await withDirs(async ([etc, run, usrLocal, usr]) => {
    await put(`${usr}/10-wg.netdev`, wgNetdev("wg0", peer(A)));
    await put(`${etc}/20-wg.netdev`, wgNetdev("wg0", peer(B)));
    // Another kind claims its name too; a WireGuard netdev networkd ignores does not.
    await put(`${etc}/30-dummy.netdev`, "[NetDev]\nName=wg1\nKind=dummy\n");
    await put(`${etc}/31-wg.netdev`, wgNetdev("wg1", peer(C)));
    await put(`${etc}/40-nokey.netdev`, "[NetDev]\nName=wg2\nKind=wireguard\n");
    await put(`${etc}/41-wg.netdev`, wgNetdev("wg2", peer(C)));
    // One for another host claims nothing: [Match] is not evaluated, and this host's may follow.
    await put(`${etc}/50-wg3-a.netdev`, `[Match]\nHost=a\n${wgNetdev("wg3", peer(A))}`);
    await put(`${etc}/51-wg3-b.netdev`, `[Match]\nHost=b\n${wgNetdev("wg3", peer(B))}`);
    await put(`${etc}/52-wg3.netdev`, wgNetdev("wg3", peer(C)));
    await put(`${etc}/53-wg3.netdev`, wgNetdev("wg3", peer(D)));
    const peers = await readNetworkd([etc, run, usrLocal, usr]);
    assert.deepStrictEqual(peers.map((p) => `${p.iface} ${p.publicKey}`), [
      `wg0 ${A}`,
      `wg2 ${C}`,
      `wg3 ${A}`,
      `wg3 ${B}`,
      `wg3 ${C}`,
    ]);
  });
});

Deno.test("readNetworkd skips missing dirs, other failures are ConfigErrors", async (t) => {
  await withDirs(async ([etc, run, usrLocal, usr], root) => {
    await t.step("no directory at all", async () => {
      assert.deepStrictEqual(await readNetworkd([etc, run, usrLocal, usr]), []);
    });
    await t.step("a parse error names file, line and field, without the address", async () => {
      await put(`${usr}/10-wg.netdev`, wgNetdev("wg0"));
      await put(`${run}/10-wg.netdev.d/p.conf`, peer(A, "192.0.2.99:51820 # office"));
      await assert.rejects(readNetworkd([etc, run, usrLocal, usr]), (e: Error) => {
        assert.ok(e instanceof ConfigError && e.exitCode === 2, String(e));
        assert.equal(
          e.message,
          `${run}/10-wg.netdev.d/p.conf:3: Endpoint: expected ` +
            "a.b.c.d:port, [v6]:port or hostname:port with a port of 1-65535",
        );
        assert.ok(e.cause instanceof ParseError);
        assert.ok(!e.message.includes(A) && !e.message.includes(PRIV));
        return true;
      });
      await Deno.remove(`${run}/10-wg.netdev.d/p.conf`);
    });
    await t.step("a directory that is a file", async () => {
      await put(`${root}/file`, "");
      await assert.rejects(
        readNetworkd([`${root}/file`, usr]),
        (e: Error) => e instanceof ConfigError && e.message.startsWith(`${root}/file: cannot list`),
      );
    });
    await t.step("a netdev that is not a regular file", async () => {
      await Deno.symlink("/dev/zero", `${usr}/20-zero.netdev`);
      await assert.rejects(
        readNetworkd([etc, run, usrLocal, usr]),
        (e: Error) =>
          e instanceof ConfigError &&
          e.message === `${usr}/20-zero.netdev: cannot read networkd file: ` +
              "is a character device, not a regular file",
      );
    });
  });
});
