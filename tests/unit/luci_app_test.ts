/**
 * The LuCI app (openwrt/luci-app-wg-reinstate), without LuCI: its JSON files,
 * its menu entry, its ACL against what the view uses, and the view itself,
 * run against recording stand-ins for LuCI's `view`, `form`, `uci`, `rpc`
 * and `fs` modules: every UCI option the daemon reads is in the form with
 * the datatype and default of its settings registry (which the init script
 * shares), `stale_after` below 180 is refused unless
 * forced, the programs and paths it accepts are those the compiled program's
 * permissions allow, and the status part shows the status file, in words,
 * and nothing else. How it was tried in a real LuCI is in the README.
 */
import assert from "node:assert/strict";
import {
  UCI_DATATYPES,
  UCI_DEFAULTS,
  UCI_INTERFACE_OPTIONS,
  UCI_MAIN_OPTIONS,
} from "../../src/config/uci_settings.ts";
import { nextStatus, summarizeCycle } from "../../src/record/status_file.ts";
import { formatLastCycle, REASON_WORDS } from "../../src/commands/status_command.ts";
import { noneKept } from "../../src/purge/plan.ts";
import { key } from "../support/peers.ts";
import { PERMISSION_FLAGS } from "../../scripts/release/runtime_flags.ts";

const APP = new URL("../../openwrt/luci-app-wg-reinstate/", import.meta.url).pathname;
const VIEW = `${APP}htdocs/luci-static/resources/view/wg-reinstate.js`;
const MENU = `${APP}root/usr/share/luci/menu.d/luci-app-wg-reinstate.json`;
const ACL = `${APP}root/usr/share/rpcd/acl.d/luci-app-wg-reinstate.json`;
const SOURCE = Deno.readTextFileSync(VIEW);

/**
 * The options the form leaves out: the program may write preshared-key files
 * only in its run directory, the default; and OpenWrt has none of
 * systemd-networkd, netplan and NetworkManager.
 */
const NOT_IN_FORM = ["key_dir", "networkd_dirs", "netplan_dirs", "network_manager_dirs"];

// ---- Recording stand-ins for LuCI's client modules -------------------------

interface Node {
  tag: string;
  attrs: Record<string, string>;
  children: (Node | string)[];
}

function E(tag: string, attrs: Record<string, string> = {}, children: unknown = []): Node {
  const list = Array.isArray(children) ? children : [children];
  const node: Node & { appendChild?: (c: Node) => void } = {
    tag,
    attrs,
    children: list.filter((c) => c !== null && c !== undefined) as (Node | string)[],
  };
  node.appendChild = (c: Node) => node.children.push(c);
  return node;
}

function text(node: Node | string): string {
  return typeof node === "string" ? node : node.children.map(text).join(" ");
}

class Option {
  values: string[] = [];
  datatype?: string;
  validate?: (sid: string, value: string) => true | string;
  constructor(
    readonly type: string,
    readonly section: Section,
    readonly name: string,
    readonly title: string,
  ) {}
  value(v: string) {
    this.values.push(v);
  }
  get map() {
    return this.section.map;
  }
}

class Section {
  options: Option[] = [];
  formValues: Record<string, string> = {};
  constructor(readonly map: FormMap, readonly type: string, readonly args: unknown[]) {}
  tab() {}
  taboption(_tab: string, cls: { kind: string }, name: string, title: string) {
    return this.option(cls, name, title);
  }
  option(cls: { kind: string }, name: string, title: string) {
    const o = new Option(cls.kind, this, name, title);
    this.options.push(o);
    return o;
  }
  formvalue(_sid: string, name: string) {
    return this.formValues[name];
  }
}

class FormMap {
  sections: Section[] = [];
  constructor(readonly config: string) {}
  section(cls: { kind: string }, ...args: unknown[]) {
    const s = new Section(this, cls.kind, args);
    this.sections.push(s);
    return s;
  }
  lookupOption(name: string) {
    const o = this.sections[0].options.find((x) => x.name === name);
    return o ? [{ formvalue: () => this.sections[0].formValues[name] }] : null;
  }
  render() {
    const node = E("div", { class: "cbi-map" }, [E("div", { class: "cbi-section" })]) as Node & {
      querySelector?: unknown;
      insertBefore?: unknown;
    };
    node.querySelector = () => node.children[0];
    node.insertBefore = (n: Node) => node.children.unshift(n);
    return Promise.resolve(node);
  }
}

// LuCI adds String.prototype.format (%s, %d); the view's validators use it too.
Object.defineProperty(String.prototype, "format", {
  configurable: true,
  value: function (this: string, ...args: unknown[]) {
    let i = 0;
    return this.replace(/%([sd])/g, (_m, t) => {
      const v = args[i++];
      return t === "d" ? String(Math.floor(Number(v))) : String(v);
    });
  },
});

const kind = (k: string) => ({ kind: k });
const form = Object.fromEntries(
  ["Flag", "Value", "ListValue", "DynamicList", "NamedSection", "TypedSection", "DummyValue"]
    .map((k) => [k, kind(k)]),
);

/** What the view asked of LuCI while it ran. */
interface Uses {
  uciLoads: string[];
  files: string[];
  ubus: [string, string][];
}

async function runView(
  options: { status?: string | null; network?: Record<string, string>[]; running?: boolean } = {},
) {
  const uses: Uses = { uciLoads: [], files: [], ubus: [] };
  let map: FormMap | null = null;
  const formWithMap = {
    ...form,
    Map: function (config: string) {
      map = new FormMap(config);
      return map;
    },
  };
  const uci = {
    load: (c: string) => (uses.uciLoads.push(c), Promise.resolve()),
    get: () => undefined,
    sections: (c: string, t: string) =>
      c === "network" && t === "interface" ? (options.network ?? []) : [],
  };
  const rpc = {
    declare: (d: { object: string; method: string }) => (..._args: unknown[]) => {
      uses.ubus.push([d.object, d.method]);
      const running = options.running ?? false;
      return Promise.resolve(
        running ? { "wg-reinstate": { instances: { instance1: { running: true } } } } : {},
      );
    },
  };
  const fs = {
    read: (path: string) => {
      uses.files.push(path);
      uses.ubus.push(["file", "read"]);
      return options.status === undefined || options.status === null
        ? Promise.reject(new Error("NotFoundError"))
        : Promise.resolve(options.status);
    },
  };
  const L = { resolveDefault: (p: Promise<unknown>, d: unknown) => p.catch(() => d) };
  const _ = (s: string) => s;
  // LuCI's plural lookup, untranslated: the singular for 1, else the plural.
  const N_ = (n: number, one: string, many: string) => n === 1 ? one : many;
  const view = new Function("view", "form", "fs", "rpc", "uci", "E", "_", "N_", "L", SOURCE)(
    { extend: (o: unknown) => o },
    formWithMap,
    fs,
    rpc,
    uci,
    E,
    _,
    N_,
    L,
  ) as { load(): Promise<unknown[]>; render(data: unknown[]): Promise<Node> };
  const node = await view.render(await view.load());
  return { node, map: map! as FormMap, uses };
}

// ---- Tests ---------------------------------------------------------------------

Deno.test("luci app JSON files parse and the menu entry points at the view", () => {
  const menu = JSON.parse(Deno.readTextFileSync(MENU));
  const acl = JSON.parse(Deno.readTextFileSync(ACL));
  const entry = menu["admin/services/wg-reinstate"];
  assert.deepStrictEqual(entry.action, { type: "view", path: "wg-reinstate" });
  assert.ok(
    Deno.statSync(`${APP}htdocs/luci-static/resources/view/${entry.action.path}.js`).isFile,
  );
  assert.deepStrictEqual(entry.depends.acl, Object.keys(acl));
  assert.strictEqual(entry.title, "WireGuard endpoint privacy");
  const makefile = Deno.readTextFileSync(`${APP}Makefile`);
  for (
    const line of [
      /^LUCI_TITLE:=\S/m,
      /^LUCI_DEPENDS:=\+luci-base \+wg-reinstate$/m,
      /^LUCI_PKGARCH:=all$/m,
      /^include \.\.\/\.\.\/luci\.mk$/m,
      /^PKG_LICENSE:=MIT$/m,
      /^PKG_MAINTAINER:=\S/m,
    ]
  ) assert.match(makefile, line);
});

Deno.test("luci app view parses as LuCI loads it, and passes every string through _()", () => {
  new Function("view", "form", "fs", "rpc", "uci", "E", "_", "N_", "L", SOURCE); // a syntax error throws
  // Visible strings are the first argument of _(); a bare string literal in an
  // E() child or a title would escape translation.
  const bare = [...SOURCE.matchAll(/E\('[a-z0-9]+', \{[^}]*\}, '([^']+)'\)/g)].map((m) => m[1]);
  assert.deepStrictEqual(bare, []);
});

Deno.test("luci app ACL grants exactly what the view uses", async () => {
  const { uses } = await runView({ status: null });
  const acl = JSON.parse(Deno.readTextFileSync(ACL))["luci-app-wg-reinstate"];
  const ubus: Record<string, string[]> = {};
  for (const [object, method] of uses.ubus) {
    ubus[object] = [...new Set([...(ubus[object] ?? []), method])].sort();
  }
  assert.deepStrictEqual(acl, {
    description: acl.description,
    read: {
      uci: [...new Set(uses.uciLoads)].sort(),
      file: Object.fromEntries(uses.files.map((f) => [f, ["read"]])),
      ubus,
    },
    // The form's own config is the only one it saves.
    write: { uci: ["wg-reinstate"] },
  });
});

Deno.test("luci app form has every option the daemon reads, with its registry's datatype", async (t) => {
  const { map } = await runView({
    network: [
      { ".name": "wg0", proto: "wireguard" },
      { ".name": "lan", proto: "static" },
      { ".name": "vpn1", proto: "wireguard" },
    ],
  });
  assert.strictEqual(map.config, "wg-reinstate");
  const [main, perInterface] = map.sections;
  assert.deepStrictEqual([main.type, main.args[0], main.args[1]], [
    "NamedSection",
    "main",
    "wg-reinstate",
  ]);
  assert.deepStrictEqual([perInterface.type, perInterface.args[0]], ["TypedSection", "interface"]);
  await t.step("the options", () => {
    assert.deepStrictEqual(
      main.options.map((o) => o.name).sort(),
      UCI_MAIN_OPTIONS.filter((o) => !NOT_IN_FORM.includes(o)).sort(),
    );
    assert.deepStrictEqual(
      perInterface.options.map((o) => o.name).sort(),
      [...UCI_INTERFACE_OPTIONS].sort(),
    );
  });
  for (const section of [main, perInterface]) {
    for (const o of section.options) {
      await t.step(`${section.type} ${o.name}: ${UCI_DATATYPES.get(o.name)}`, () => {
        assertDatatype(o, UCI_DATATYPES.get(o.name)!);
      });
    }
  }
  await t.step(
    "each default the form shows, and each number's placeholder, is the daemon's",
    () => {
      for (const o of main.options) {
        const shown = o as Option & { default?: string; placeholder?: string };
        if (shown.default !== undefined) {
          assert.strictEqual(
            shown.default,
            UCI_DEFAULTS.get(o.name),
          );
        }
        if (/^(range|and\(ufloat)/.test(UCI_DATATYPES.get(o.name)!)) {
          assert.strictEqual(shown.placeholder, UCI_DEFAULTS.get(o.name), o.name);
        }
      }
    },
  );
  const byName = new Map(main.options.map((o) => [o.name, o]));
  // The interface list offers the WireGuard interfaces of /etc/config/network.
  assert.deepStrictEqual(byName.get("interface")!.values, ["wg0", "vpn1"]);
  assert.strictEqual(
    byName.get("exclude")!.validate!("main", "not-a-key"),
    "Not a WireGuard public key",
  );
  assert.strictEqual(byName.get("exclude")!.validate!("main", key("A")), true);
  assert.strictEqual(
    byName.get("interface")!.validate!("main", "-bad"),
    "Not a valid interface name",
  );
});

/** Asserts that form option `o` checks what OpenWrt's `datatype` checks. */
function assertDatatype(o: Option, datatype: string): void {
  if (datatype === "bool") assert.strictEqual(o.type, "Flag", o.name);
  else if (datatype.startsWith("or(")) {
    assert.strictEqual(o.type, "ListValue", o.name);
    assert.deepStrictEqual(o.values, [...datatype.matchAll(/"([^"]+)"/g)].map((m) => m[1]), o.name);
  } else if (datatype.startsWith("list(regex(")) {
    assert.strictEqual(o.type, "DynamicList", o.name);
    const pattern = datatype.match(/^list\(regex\("(.+)"\)\)$/)![1];
    const source = SOURCE.match(new RegExp(`var [A-Z_]+ = /\\^(${escape(pattern)})\\$/;`));
    assert.ok(source !== null, `${o.name}: the view checks ^${pattern}$`);
  } else assert.strictEqual(o.datatype, datatype, o.name);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

Deno.test("luci app refuses stale_after below 180 with the reason, unless forced", async () => {
  const { map } = await runView();
  const [main, perInterface] = map.sections;
  const staleAfter = main.options.find((o) => o.name === "stale_after")!;
  assert.strictEqual(staleAfter.validate!("main", "180"), true);
  assert.strictEqual(staleAfter.validate!("main", "3600"), true);
  const refusal = staleAfter.validate!("main", "60");
  assert.match(String(refusal), /^Below 180 s, live WireGuard sessions would be cut/);
  main.formValues.force_short_threshold = "1";
  assert.strictEqual(staleAfter.validate!("main", "60"), true);
  main.formValues.force_short_threshold = "0";
  const perInterfaceStale = perInterface.options.find((o) => o.name === "stale_after")!;
  assert.match(String(perInterfaceStale.validate!("wg0", "60")), /^Below 180 s/);
});

/** The status file after `cycles`: each purges that many stale peers per interface, or fails. */
function statusAfter(cycles: (Record<string, number> | "failed")[]): string {
  let status = null;
  let at = 1_800_000_000;
  for (const cycle of cycles) {
    const kept = noneKept();
    kept.active = 4;
    kept.excluded = 1;
    const outcome = cycle === "failed" ? { error: new Error("wg show failed") } : {
      report: {
        dryRun: false,
        busy: [],
        durationMs: 42,
        ok: true,
        nextDeadline: null,
        uneventful: false,
        interfaces: Object.entries(cycle).map(([name, n]) => ({
          name,
          checked: n + 5,
          purged: Array.from({ length: n }, (_, i) => ({
            publicKey: key(String.fromCharCode(65 + i)),
            reason: "stale" as const,
            idleSeconds: 900,
            lingerSeconds: 720,
          })),
          kept,
          repaired: [],
          error: null,
          stoppedEarly: 0,
          saveConfig: false,
        })),
      },
    };
    status = nextStatus(status, summarizeCycle(outcome, at += 30, 0.042, false), 100);
  }
  return JSON.stringify(status);
}

async function statusText(status: string | null, running = true): Promise<string> {
  const { node, uses } = await runView({ status, running });
  assert.deepStrictEqual(uses.files, ["/var/run/wg-reinstate/status.json"]);
  return text(node.children[0] as Node);
}

Deno.test("luci app status says there is no cycle yet when there is no status file", async () => {
  const shown = await statusText(null, false);
  assert.match(shown, /Service: +not running/);
  assert.match(shown, /No cycle yet: there is no status file\./);
});

Deno.test("luci app status speaks plainly: words, not key=value, and correct plurals", async (t) => {
  const cases: [string, (Record<string, number> | "failed")[], RegExp[]][] = [
    ["one cycle", [{ wg0: 2 }], [
      /Last cycle: +.*took 0\.042 s, ok/,
      /wg0 +7 +2 stale +4 active, 1 excluded +0 +-/,
      /Since .*: +1 cycle; 2 peers purged on wg0; no peer repaired$/,
    ]],
    ["one peer", [{ wg0: 1 }], [/: +1 cycle; 1 peer purged on wg0; no peer repaired$/]],
    ["nothing purged", [{ wg0: 0 }], [
      /wg0 +5 +none +4 active, 1 excluded/,
      /: +1 cycle; no peer purged; no peer repaired$/,
    ]],
    ["several cycles and interfaces, one failed", [{ wg0: 3, wg1: 1 }, "failed", { wg0: 1 }], [
      /: +3 cycles, 1 failed; 4 peers purged on wg0, 1 peer purged on wg1; no peer repaired$/,
    ]],
  ];
  for (const [name, cycles, patterns] of cases) {
    await t.step(name, async () => {
      const shown = await statusText(statusAfter(cycles));
      assert.match(shown, /Service: +running/);
      for (const pattern of patterns) assert.match(shown, pattern);
      assert.doesNotMatch(shown, /[a-z]=\d|\b1 cycles\b|\b1 peers\b/);
      assert.ok(!shown.includes(key("A").slice(0, 8)), "no key");
    });
  }
});

Deno.test("luci app and wg-reinstate status word the status file alike", async (t) => {
  await t.step("every reason", async () => {
    const status = JSON.parse(statusAfter([{ wg0: 1 }]));
    status.lastCycle.interfaces[0].kept = Object.fromEntries(
      Object.keys(REASON_WORDS).map((reason, i) => [reason, i + 2]),
    );
    const shown = await statusText(JSON.stringify(status));
    const cli = formatLastCycle(status, "s.json", 1_800_000_100);
    for (const [reason, words] of Object.entries(REASON_WORDS)) {
      const n = status.lastCycle.interfaces[0].kept[reason];
      assert.ok(shown.includes(`${n} ${words}`), `LuCI: ${n} ${words}`);
      assert.ok(cli.includes(`${n} ${words}`), `status: ${n} ${words}`);
    }
  });
  await t.step("the totals", async () => {
    for (const cycles of [[{ wg0: 1 }], [{ wg0: 3, wg1: 1 }, "failed" as const]]) {
      const status = statusAfter(cycles);
      const luci = (await statusText(status)).match(/Since .*: +(\d+ cycles?\b.*)$/)![1];
      const cli = formatLastCycle(JSON.parse(status), "s.json", 1_800_000_100)
        .match(/^Since .* UTC: (.*)$/m)![1];
      assert.strictEqual(luci, cli);
    }
  });
});

/** The paths (or programs) a `--allow-…` permission of the compiled program names. */
function allowed(permission: "run" | "read" | "write"): string[] {
  const flag = PERMISSION_FLAGS.find((f) => f.startsWith(`--allow-${permission}=`))!;
  return flag.slice(flag.indexOf("=") + 1).split(",");
}

Deno.test("luci app form offers only the programs and paths the compiled program may use", async (t) => {
  const { map } = await runView();
  const option = (name: string) => map.sections[0].options.find((o) => o.name === name)!;
  assert.ok(!map.sections[0].options.some((o) => NOT_IN_FORM.includes(o.name)));

  await t.step("wg: the wg programs --allow-run names, and no other", () => {
    const wg = option("wg");
    // --allow-run also names `kill`, which ends a hung wg's process group,
    // and `conntrack`, which deletes a purged port's tracked flows.
    const wgPrograms = allowed("run").filter((p) => p.split("/").at(-1) === "wg");
    assert.deepStrictEqual(wg.values, wgPrograms);
    for (const program of ["", ...wgPrograms]) {
      assert.strictEqual(wg.validate!("main", program), true);
    }
    for (const program of ["/opt/wg", "/usr/bin/wg-other", "sh", "kill", "/usr/sbin/conntrack"]) {
      assert.match(String(wg.validate!("main", program)), /^wg-reinstate may run only wg, /);
    }
  });
  const cases: [string, "read" | "write", string[]][] = [
    ["status_file", "write", ["/tmp/status.json", "/etc/config/status.json"]],
    ["metrics_file", "write", ["/var/lib/node_exporter/wg.prom", "/var/prometheusx/wg.prom"]],
    ["network_config", "read", ["/root/network", "/etc/shadow"]],
    ["wg_quick_config", "read", ["/home/me/%i.conf", "/etc/config/../shadow"]],
  ];
  for (const [name, permission, refused] of cases) {
    await t.step(`${name}: below what --allow-${permission} names, and nowhere else`, () => {
      const o = option(name);
      for (const dir of allowed(permission)) {
        assert.strictEqual(o.validate!("main", `${dir}/file`), true, dir);
      }
      assert.strictEqual(o.validate!("main", ""), true);
      for (const path of refused) {
        assert.match(
          String(o.validate!("main", path)),
          new RegExp(`^wg-reinstate may ${permission} only files below /`),
          path,
        );
      }
    });
  }
  await t.step("every placeholder passes its own check", () => {
    for (const o of map.sections[0].options) {
      const placeholder = (o as Option & { placeholder?: string }).placeholder;
      if (placeholder !== undefined && o.validate) {
        assert.strictEqual(o.validate("main", placeholder), true, o.name);
      }
    }
  });
});
