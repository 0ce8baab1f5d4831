/**
 * The LuCI app (openwrt/luci-app-wg-reinstate), without LuCI: its JSON files,
 * its menu entry, its ACL against what the view uses, and the view itself,
 * run against recording stand-ins for LuCI's `view`, `form`, `uci`, `rpc`
 * and `fs` modules: every UCI option the daemon reads is in the form with
 * the init script's datatype, `stale_after` below 180 is refused unless
 * forced, and the status part shows the status file and nothing else.
 * How it was tried in a real LuCI is in the README.
 */
import assert from "node:assert/strict";
import { UCI_INTERFACE_OPTIONS, UCI_MAIN_OPTIONS } from "../../src/config/uci_settings.ts";
import { nextStatus, summarizeCycle } from "../../src/cli/status_file.ts";
import { countKeptByReason } from "../../src/purge/plan.ts";
import { key } from "../support/peers.ts";

const APP = new URL("../../openwrt/luci-app-wg-reinstate/", import.meta.url).pathname;
const VIEW = `${APP}htdocs/luci-static/resources/view/wg-reinstate.js`;
const MENU = `${APP}root/usr/share/luci/menu.d/luci-app-wg-reinstate.json`;
const ACL = `${APP}root/usr/share/rpcd/acl.d/luci-app-wg-reinstate.json`;
const INIT = new URL("../../openwrt/files/wg-reinstate.init", import.meta.url).pathname;
const SOURCE = Deno.readTextFileSync(VIEW);

/** Options the form deliberately leaves out, with the reason. */
const LEFT_OUT: Record<string, string> = {};

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
  const view = new Function("view", "form", "fs", "rpc", "uci", "E", "_", "L", SOURCE)(
    { extend: (o: unknown) => o },
    formWithMap,
    fs,
    rpc,
    uci,
    E,
    _,
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
  new Function("view", "form", "fs", "rpc", "uci", "E", "_", "L", SOURCE); // a syntax error throws
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

Deno.test("luci app form has every option the daemon reads, with the init script's datatype", async () => {
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
  const names = main.options.map((o) => o.name);
  assert.deepStrictEqual(
    UCI_MAIN_OPTIONS.filter((o) => !names.includes(o) && !(o in LEFT_OUT)),
    [],
  );
  assert.deepStrictEqual(names.filter((n) => !UCI_MAIN_OPTIONS.includes(n)), []);
  assert.deepStrictEqual([perInterface.type, perInterface.args[0]], ["TypedSection", "interface"]);
  assert.deepStrictEqual(
    perInterface.options.map((o) => o.name).sort(),
    [...UCI_INTERFACE_OPTIONS].sort(),
  );

  // The init script's datatypes, option by option.
  const init = Deno.readTextFileSync(INIT);
  const specs = [...init.matchAll(/'([a-z_]+):(.+?)(?::[^:']*)?'(?: \\)?$/gm)].map((
    m,
  ) => [m[1], m[2]]);
  assert.strictEqual(specs.length, UCI_MAIN_OPTIONS.length);
  const byName = new Map(main.options.map((o) => [o.name, o]));
  for (const [name, datatype] of specs) {
    const o = byName.get(name)!;
    if (datatype === "bool") assert.strictEqual(o.type, "Flag", name);
    else if (datatype.startsWith("or(")) {
      assert.strictEqual(o.type, "ListValue", name);
      assert.deepStrictEqual(o.values, [...datatype.matchAll(/"([^"]+)"/g)].map((m) => m[1]), name);
    } else if (datatype.startsWith("list(regex(")) {
      assert.strictEqual(o.type, "DynamicList", name);
      const pattern = datatype.match(/^list\(regex\("(.+)"\)\)$/)![1];
      const source = SOURCE.match(new RegExp(`var [A-Z_]+ = /\\^(${escape(pattern)})\\$/;`));
      assert.ok(source !== null, `${name}: the view checks ^${pattern}$`);
    } else assert.strictEqual(o.datatype, datatype, name);
  }
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

Deno.test("luci app status shows the last cycle from the status file, and no cycle when there is none", async () => {
  const none = await runView({ status: null, running: false });
  const noneText = text(none.node.children[0] as Node);
  assert.match(noneText, /Service: +not running/);
  assert.match(noneText, /No cycle yet: there is no status file\./);

  const kept = countKeptByReason([]);
  kept.active = 4;
  const status = nextStatus(
    null,
    summarizeCycle(
      {
        report: {
          dryRun: false,
          busy: [],
          durationMs: 42,
          ok: true,
          interfaces: [{
            name: "wg0",
            checked: 7,
            purged: [
              { publicKey: key("A"), reason: "stale", idleSeconds: 900 },
              { publicKey: key("B"), reason: "stale", idleSeconds: 901 },
            ],
            kept,
            repaired: [],
            error: null,
            stoppedEarly: 0,
          }],
        },
      },
      1_800_000_000,
      0.042,
      false,
    ),
    100,
  );
  const shown = await runView({ status: JSON.stringify(status), running: true });
  const shownText = text(shown.node.children[0] as Node);
  assert.match(shownText, /Service: +running/);
  assert.match(shownText, /Last cycle: +.*took 0\.042 s, ok/);
  assert.match(shownText, /wg0 +7 +2 \(stale=2\) +active=4 +0 +-/);
  assert.match(shownText, /1 cycles \(1 ok, 0 failed\); purged wg0=2; repaired none/);
  assert.ok(!shownText.includes(key("A").slice(0, 8)));
  assert.deepStrictEqual(shown.uses.files, ["/var/run/wg-reinstate/status.json"]);
});
