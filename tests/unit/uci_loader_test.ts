import assert from "node:assert/strict";
import { loadProtection } from "../../src/config/protection.ts";
import { DEFAULT_SETTINGS, resolveSettings } from "../../src/config/schema.ts";
import { parseUci } from "../../src/config/uci.ts";
import { loadWireguardNetwork } from "../../src/config/uci_network.ts";
import {
  loadUciSettings,
  UCI_INTERFACE_OPTIONS,
  UCI_MAIN_OPTIONS,
  uciEnabled,
  uciSettingsLayer,
} from "../../src/config/uci_settings.ts";
import { ConfigError } from "../../src/common/errors.ts";
import { runCli } from "../harness/cli.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;
const NETWORK = `${FIXTURES}network`;
const CONFIG = `${FIXTURES}wg-reinstate`;
// Never /etc/wireguard (root only): these tests run unprivileged.
const WG_QUICK = `${FIXTURES}wg-quick-empty.conf`;
const SHIPPED = new URL("../../openwrt/files/wg-reinstate.config", import.meta.url).pathname;

const ALICE = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
const BOB = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=";
const BRANCH = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
const TABLET = "0fSXWgHWtWpcGMvsdmD0cyW15zzNJ8OMS3wKYJhHsig=";
const VISITOR = "gN65BkIKy1eCE9pP1wdc8ROUtkHLF2PfAqYdyYBz6EA=";

Deno.test("uciSettingsLayer maps the shipped default config onto the defaults", async () => {
  const settings = resolveSettings([await loadUciSettings(SHIPPED)]);
  assert.deepStrictEqual(settings, { ...DEFAULT_SETTINGS, networkConfig: "/etc/config/network" });
  assert.strictEqual(
    uciEnabled(parseUci(await Deno.readTextFile(SHIPPED), SHIPPED), SHIPPED),
    true,
  );
});

Deno.test("uciSettingsLayer maps main and per-interface sections onto the settings schema", async () => {
  const settings = resolveSettings([await loadUciSettings(CONFIG), {
    source: "flags",
    values: { networkConfig: NETWORK },
  }]);
  assert.deepStrictEqual(settings, {
    ...DEFAULT_SETTINGS,
    interval: 60,
    staleAfter: 240,
    logLevel: "debug",
    dryRun: false,
    interfaces: ["wg_home", "wg_site", "wg_guest"],
    exclude: [VISITOR],
    networkConfig: NETWORK,
    interfaceOverrides: { wg_home: { staleAfter: 600, exclude: [BOB] } },
  });
});

Deno.test("loadProtection protects dialed and excluded peers and ignores disabled ones", async () => {
  const settings = resolveSettings([await loadUciSettings(CONFIG), {
    source: "flags",
    values: { networkConfig: NETWORK, wgQuickConfig: WG_QUICK },
  }]);
  const network = await loadWireguardNetwork(NETWORK);
  assert.deepStrictEqual(network.interfaces, ["wg_home", "wg_site", "wg_guest"]);
  assert.deepStrictEqual(network.peers.map((p) => [p.iface, p.section, p.description, p.dialed]), [
    ["wg_home", "phone", "Alice phone", false],
    ["wg_home", "cfg0622b4", "Bob laptop", false],
    ["wg_site", "branch", "Branch office", true],
    ["wg_guest", "visitor", null, false],
  ]);
  const home = await loadProtection(settings, "wg_home", { network, peers: [] });
  assert.strictEqual(home.policy.staleAfter, 600);
  assert.deepStrictEqual([...home.policy.exclude].sort(), [BOB, VISITOR].sort());
  assert.deepStrictEqual([...home.policy.configuredEndpoints], []);
  const site = await loadProtection(settings, "wg_site", { network, peers: [] });
  assert.strictEqual(site.policy.staleAfter, 240);
  assert.deepStrictEqual([...site.policy.configuredEndpoints], [BRANCH]);
  assert.deepStrictEqual(site.protectedPeers.find((p) => p.publicKey === BRANCH), {
    publicKey: BRANCH,
    reasons: [`endpoint_host in ${NETWORK} (section branch)`],
    description: "Branch office",
  });
  const guest = await loadProtection(settings, "wg_guest", { network, peers: [] });
  assert.ok(!guest.policy.configuredEndpoints.has(TABLET), "a disabled peer does not protect");
  assert.ok(!home.policy.configuredEndpoints.has(ALICE));
});

Deno.test("uciSettingsLayer names the option of a bad value", () => {
  const cases: [string, RegExp][] = [
    [
      "config wg-reinstate main\n\toption stale_after soon\n",
      /x:1: config wg-reinstate 'main': option stale_after: "soon" is not a whole number/,
    ],
    [
      "config wg-reinstate main\n\toption dry_run maybe\n",
      /option dry_run: "maybe" is not a boolean/,
    ],
    ["config wg-reinstate main\n\toption stale_aftr 200\n", /unknown option stale_aftr/],
    [
      "config wg-reinstate main\n\tlist exclude nope\n",
      /x: option exclude\.0: is not a WireGuard key/,
    ],
    [
      "config wg-reinstate main\n\tlist interface 'wg0;'\n",
      /option interface\.0: is not a valid interface name/,
    ],
    ["config wg-reinstate main\n\toption stale_after 60\n", null as unknown as RegExp],
    ["config interface 'wg0'\n\toption stale_after 60\n", null as unknown as RegExp],
    ["config peer x\n", /unknown section type/],
  ];
  for (const [text, pattern] of cases) {
    const run = () => resolveSettings([uciSettingsLayer(parseUci(text, "x"), "x")]);
    if (pattern === null) {
      assert.throws(
        run,
        (e: Error) => e instanceof ConfigError && /below 180 s/.test(e.message),
        text,
      );
    } else {
      assert.throws(run, (e: Error) => e instanceof ConfigError && pattern.test(e.message), text);
    }
  }
});

Deno.test("config command prints effective settings and why each peer is protected", async () => {
  const r = await runCli([
    "config",
    "--uci",
    CONFIG,
    "--network",
    NETWORK,
    "--wg-quick-config",
    WG_QUICK,
  ]);
  assert.strictEqual(r.code, 0, r.log);
  const out = JSON.parse(r.stdout);
  assert.strictEqual(out.enabled, true);
  assert.strictEqual(out.settings.staleAfter, 240);
  assert.deepStrictEqual(
    out.interfaces.map((
      i: {
        name: string;
        staleAfter: number;
        protected: { publicKey: string; reasons: string[] }[];
      },
    ) => [
      i.name,
      i.staleAfter,
      i.protected.map((p) => [p.publicKey.slice(0, 4), p.reasons]),
    ]),
    [
      ["wg_home", 600, [["gN65", ["excluded"]], ["TrMv", ["excluded"]]]],
      ["wg_site", 240, [["gN65", ["excluded"]], ["HIgo", [
        `endpoint_host in ${NETWORK} (section branch)`,
      ]]]],
      ["wg_guest", 240, [["gN65", ["excluded"]]]],
    ],
  );
  const bad = await runCli(["config", "--uci", `${FIXTURES}network`]);
  assert.strictEqual(bad.code, 2);
  // The path is not matched: redaction shortens a long run of path characters like a key.
  assert.match(bad.log, /:2: config interface 'loopback': unknown option device\n$/);
});

Deno.test("uciSettingsLayer reads a section named after an Object property as any other", async (t) => {
  const withSection = (name: string, staleAfter: number) =>
    `config interface '${name}'\n\toption stale_after ${staleAfter}\n\tlist exclude ${BOB}\n`;
  for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
    await t.step(name, async () => {
      const settings = {
        ...resolveSettings([uciSettingsLayer(parseUci(withSection(name, 600), "x"), "x")]),
        wgQuickConfig: WG_QUICK,
      };
      assert.deepStrictEqual(Object.keys(settings.interfaceOverrides), [name]);
      const own = await loadProtection(settings, name, { network: null, peers: [] });
      assert.strictEqual(own.policy.staleAfter, 600);
      assert.deepStrictEqual([...own.policy.exclude], [BOB]);
      const other = await loadProtection(settings, "wg0", { network: null, peers: [] });
      assert.strictEqual(other.policy.staleAfter, 180);
      assert.deepStrictEqual([...other.policy.exclude], []);
      assert.ok(!("staleAfter" in {}) && !Object.hasOwn(Object, "staleAfter"), "nothing polluted");
      assert.throws(
        () => resolveSettings([uciSettingsLayer(parseUci(withSection(name, 60), "x"), "x")]),
        {
          message: new RegExp(`^x: config interface\\.${name}\\.staleAfter: must be at least 180 `),
        },
      );
    });
  }
  await t.step("an interface of that name without a section: the global settings", async () => {
    const settings = { ...resolveSettings([]), wgQuickConfig: WG_QUICK };
    const policy =
      (await loadProtection(settings, "constructor", { network: null, peers: [] })).policy;
    assert.strictEqual(policy.staleAfter, 180);
    assert.deepStrictEqual([...policy.exclude], []);
  });
});

Deno.test("the shipped UCI config names only options the daemon reads", async () => {
  // Commented-out lines too: they are the examples an operator uncomments.
  const text = await Deno.readTextFile(SHIPPED);
  const named = [...text.matchAll(/^\s*#?\s*(?:option|list) ([a-z_]+) /gm)].map((m) => m[1]);
  assert.ok(named.length >= 8, named.join(" "));
  assert.deepStrictEqual(
    named.filter((o) => !UCI_MAIN_OPTIONS.includes(o) && !UCI_INTERFACE_OPTIONS.includes(o)),
    [],
  );
});
