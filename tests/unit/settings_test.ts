import assert from "node:assert/strict";
import fc from "fast-check";
import { parseCommandLine as parseWith } from "../../src/cli/args.ts";
import { COMMANDS } from "../../src/main.ts";
import { loadSettings } from "../../src/config/load.ts";
import {
  checkSettingsLayer,
  DEFAULT_SETTINGS,
  parseSettingsLayer,
  resolveSettings,
} from "../../src/config/schema.ts";
import { helpOf, SETTING_NAMES, settingSpec } from "../../src/config/settings_registry.ts";
import { optionFor, OPTIONS, type OptionSpec } from "../../src/cli/options.ts";
import { ConfigError } from "../../src/common/errors.ts";
import { key } from "../support/peers.ts";

const parseCommandLine = (argv: readonly string[]) => parseWith(argv, COMMANDS);

async function flags(argv: string[]) {
  const cmd = await parseCommandLine(argv);
  assert.strictEqual(cmd.kind, "command");
  return cmd;
}

async function withFile<T>(text: string, fn: (path: string) => Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(path, text);
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

async function configErrorOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.ok(!error.message.includes("\n"), "one line");
    return error.message;
  }
  assert.fail("no ConfigError");
}

Deno.test("resolveSettings uses defaults when nothing is given", () => {
  assert.deepStrictEqual(resolveSettings([]), DEFAULT_SETTINGS);
  assert.strictEqual(DEFAULT_SETTINGS.staleAfter, 180);
  assert.strictEqual(DEFAULT_SETTINGS.interval, DEFAULT_SETTINGS.staleAfter);
});

Deno.test("loadSettings lets flags override the file and the file override defaults", async () => {
  const file = JSON.stringify({
    staleAfter: 600,
    interval: 45,
    exclude: [key("a")],
    logFormat: "json",
  });
  const settings = await withFile(file, async (path) => {
    const cmd = await flags([
      "daemon",
      "--config",
      path,
      "--stale-after",
      "900",
      "-i",
      "wg0",
      "-i",
      "wg1",
    ]);
    return loadSettings({ configPath: cmd.configPath, uciPath: null }, cmd.flags);
  });
  assert.strictEqual(settings.staleAfter, 900);
  assert.strictEqual(settings.interval, 45);
  assert.deepStrictEqual(settings.exclude, [key("a")]);
  assert.strictEqual(settings.logFormat, "json");
  assert.deepStrictEqual(settings.interfaces, ["wg0", "wg1"]);
  assert.strictEqual(settings.logLevel, "info");
});

Deno.test("resolveSettings refuses a threshold below 180 s unless forced, from any source", async (t) => {
  const below =
    "must be at least 180 (below 180 s, live WireGuard sessions are cut; forceShortThreshold " +
    "allows it, for demos and tests)";
  const cases: [string, { file?: unknown; argv?: string[] }, string | number][] = [
    [
      "a flag",
      { argv: ["--stale-after", "60"] },
      "--stale-after: must be at least 180 " +
      "(see wg-reinstate run --help)",
    ],
    ["a flag, forced", { argv: ["--stale-after", "60", "--force-short-threshold"] }, 60],
    ["a flag, forced by the file", {
      file: { forceShortThreshold: true },
      argv: ["--stale-after", "60"],
    }, 60],
    ["a forced flag, below 1", {
      argv: ["--stale-after", "0", "--force-short-threshold"],
    }, "--stale-after: must be at least 1 (see wg-reinstate run --help)"],
    ["the file", { file: { staleAfter: 60 } }, `FILE: staleAfter: ${below}`],
    [
      "the file, forced, below 1",
      { file: { staleAfter: -5, forceShortThreshold: true } },
      "FILE: staleAfter: must be at least 1",
    ],
    [
      "an interface of the file",
      { file: { interfaceOverrides: { wg0: { staleAfter: 60 } } } },
      `FILE: interfaceOverrides.wg0.staleAfter: ${below}`,
    ],
    [
      "the file, but the flag wins",
      { file: { staleAfter: 60 }, argv: ["--stale-after", "300"] },
      300,
    ],
  ];
  for (const [name, { file, argv = [] }, expected] of cases) {
    await t.step(name, async () => {
      const load = async (path: string | null) =>
        loadSettings({ configPath: path, uciPath: null }, (await flags(["run", ...argv])).flags);
      const settings = file === undefined
        ? load(null)
        : withFile(JSON.stringify(file), (path) =>
          load(path).catch((e) => {
            throw new ConfigError(e.message.replace(path, "FILE"));
          }));
      if (typeof expected === "number") {
        assert.strictEqual((await settings).staleAfter, expected);
      } else {
        assert.strictEqual(await configErrorOf(() => settings), expected);
      }
    });
  }
});

Deno.test("settings errors of a file name the file and the field", async (t) => {
  for (
    const [text, expected] of [
      ['{"staleAfter": "long"}', "staleAfter: expected number"],
      ['{"staleAfter": 1e23}', "staleAfter: must be at most 31536000"],
      ['{"interval": 0}', "interval: must be at least 1"],
      ['{"interval": 1.5}', "interval: must be a whole number"],
      ['{"wgTimeout": 0}', "wgTimeout: must be above 0"],
      ['{"logLevel": "loud"}', "logLevel: must be debug, info, warning or error"],
      ['{"stale_after": 200}', "stale_after: unknown setting"],
      [
        '{"exclude": ["AAAA"]}',
        "exclude.0: is not a WireGuard key (44 characters of base64 " +
        "ending in '=')",
      ],
      ['{"statusFile": "/tmp/a\\nb"}', "statusFile: must not contain control characters"],
      ['{"wgQuickConfig": "/etc/\\u0000"}', "wgQuickConfig: must not contain control characters"],
      ['{"keyDir": ""}', "keyDir: must not be empty"],
    ] as const
  ) {
    await t.step(text, async () => {
      const message = await withFile(
        text,
        async (path) =>
          (await configErrorOf(async () =>
            loadSettings({ configPath: path, uciPath: null }, (await flags(["run"])).flags)
          )).replace(path, "FILE"),
      );
      assert.strictEqual(message, `FILE: ${expected}`);
    });
  }
  await t.step("not JSON", async () => {
    const message = await withFile(
      "{not json",
      async (path) =>
        await configErrorOf(async () =>
          loadSettings({ configPath: path, uciPath: null }, (await flags(["run"])).flags)
        ),
    );
    assert.match(message, /\.json: not valid JSON/);
  });
  await t.step("missing", async () => {
    const message = await configErrorOf(async () =>
      loadSettings(
        { configPath: "/nonexistent/wg-reinstate.json", uciPath: null },
        (await flags(["run"])).flags,
      )
    );
    assert.match(
      message,
      /^\/nonexistent\/wg-reinstate\.json: cannot read config file: no such file/,
    );
  });
});

Deno.test("parseSettingsLayer throws only ConfigError for arbitrary JSON", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (values) => {
      try {
        parseSettingsLayer({ source: "fuzz.json", values });
      } catch (error) {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(error.message, /^fuzz\.json: /);
      }
    }),
    { numRuns: 10_000 },
  );
});

Deno.test("parseCommandLine answers --help and --version", async () => {
  assert.strictEqual((await parseCommandLine(["--version"])).kind, "version");
  for (const cmd of Object.keys(COMMANDS)) {
    const help = await parseCommandLine([cmd, "--help"]);
    assert.strictEqual(help.kind, "help");
    assert.match(help.text, new RegExp(`Usage: wg-reinstate ${cmd}`));
  }
});

Deno.test("settings registry describes each setting once: no flag, short flag or UCI option twice", async (t) => {
  const specs = SETTING_NAMES.map(settingSpec);
  const cases: [string, (string | null | undefined)[]][] = [
    ["flags", [
      ...specs.map((s) => s.flag),
      ...Object.keys(OPTIONS).filter((o) => !optionField(o)),
    ]],
    ["short flags", Object.values(OPTIONS).map((o: OptionSpec) => o.short)],
    ["UCI options", specs.map((s) => s.uci)],
  ];
  for (const [name, values] of cases) {
    await t.step(name, () => {
      const given = values.filter((v) => v !== null && v !== undefined);
      assert.deepStrictEqual(given.filter((v, i) => given.indexOf(v) !== i), []);
    });
  }
  await t.step("every setting has its option, with the registry's help", () => {
    for (const name of SETTING_NAMES) {
      const option = OPTIONS[optionFor(name)!];
      assert.strictEqual(option.field, name);
      assert.strictEqual(option.help, helpOf(name));
    }
  });
});

/** The setting an option sets, if any. */
function optionField(name: string): string | undefined {
  return (OPTIONS as Record<string, OptionSpec>)[name].field;
}

Deno.test("settings registry defaults each pass their own schema", () => {
  // staleAfter's own minimum is resolveSettings' to check, with the force.
  assert.deepStrictEqual(parseSettingsLayer({ source: "defaults", values: DEFAULT_SETTINGS }), {
    ...DEFAULT_SETTINGS,
  });
  assert.deepStrictEqual(Object.keys(DEFAULT_SETTINGS), [...SETTING_NAMES, "interfaceOverrides"]);
});

Deno.test("resolveSettings keeps interfaceOverrides of interfaces named after Object properties", async (t) => {
  for (const name of ["constructor", "__proto__", "toString"]) {
    await t.step(name, () => {
      const values = JSON.parse(`{"interfaceOverrides": {"${name}": {"staleAfter": 600}}}`);
      const settings = resolveSettings([{ source: "FILE", values }]);
      assert.deepStrictEqual(Object.keys(settings.interfaceOverrides), [name]);
      assert.ok(Object.hasOwn(settings.interfaceOverrides, name));
      assert.deepStrictEqual(settings.interfaceOverrides[name], { staleAfter: 600 });
      assert.strictEqual(Object.getPrototypeOf(settings.interfaceOverrides), Object.prototype);
      const short = JSON.parse(`{"interfaceOverrides": {"${name}": {"staleAfter": 60}}}`);
      assert.throws(
        () => resolveSettings([{ source: "FILE", values: short }]),
        {
          message: new RegExp(
            `^FILE: interfaceOverrides\\.${name}\\.staleAfter: must be at least 180 `,
          ),
        },
      );
    });
  }
});

Deno.test("resolveSettings takes a checked layer as checked, without parsing it again", () => {
  const layer = checkSettingsLayer({ source: "FILE", values: { interval: 45 } });
  assert.deepStrictEqual(layer.checked, { interval: 45 });
  // The values are not read again: what was checked is what counts.
  const settings = resolveSettings([{ ...layer, values: { interval: "not read" } }]);
  assert.strictEqual(settings.interval, 45);
});
