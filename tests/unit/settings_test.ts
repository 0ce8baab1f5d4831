import assert from "node:assert/strict";
import fc from "fast-check";
import { parseCommandLine as parseWith } from "../../src/cli/args.ts";
import { COMMANDS } from "../../src/main.ts";
import { loadSettings } from "../../src/config/load.ts";
import { DEFAULT_SETTINGS, parseSettingsLayer, resolveSettings } from "../../src/config/schema.ts";
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
  assert.strictEqual(DEFAULT_SETTINGS.interval, 30);
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

Deno.test("resolveSettings refuses a threshold below 180 s unless forced", async () => {
  const message = await configErrorOf(async () =>
    resolveSettings([(await flags(["run", "--stale-after", "60"])).flags])
  );
  assert.match(message, /stale-after: 60 s is below 180 s.*REJECT_AFTER_TIME/);
  assert.strictEqual(
    resolveSettings([
      (await flags(["run", "--stale-after", "60", "--force-short-threshold"])).flags,
    ])
      .staleAfter,
    60,
  );
});

Deno.test("settings errors name the flag or the file field", async () => {
  assert.match(
    await configErrorOf(async () =>
      resolveSettings([(await flags(["run", "--exclude", "nope"])).flags])
    ),
    /^flags: --exclude\.0: is not a WireGuard key/,
  );
  assert.match(
    await configErrorOf(() => parseCommandLine(["run", "-i", "-h"])),
    /'-i' argument is ambiguous/,
  );
  assert.match(
    await configErrorOf(async () =>
      resolveSettings([(await flags(["run", "--interface=-h"])).flags])
    ),
    /--interface\.0: is not a valid/,
  );
  assert.match(
    await configErrorOf(async () =>
      resolveSettings([(await flags(["run", "-i", "all; rm"])).flags])
    ),
    /--interface\.0: is not a valid interface name/,
  );
  assert.match(
    await configErrorOf(async () =>
      resolveSettings([(await flags(["run", "--log-level", "loud"])).flags])
    ),
    /--log-level/,
  );
  assert.match(
    await configErrorOf(() => parseCommandLine(["run", "--stale-after", "abc"])),
    /--stale-after: "abc" is not a number/,
  );
  assert.match(await configErrorOf(() => parseCommandLine(["run", "--bogus"])), /bogus/);
  assert.match(
    await configErrorOf(() => parseCommandLine(["run", "-i", "all", "-i", "wg0"])),
    /--interface: "all" cannot be combined/,
  );
  assert.match(
    await configErrorOf(() => parseCommandLine(["purge"])),
    /unknown command "purge"/,
  );
  for (const inherited of ["__proto__", "toString", "constructor"]) {
    assert.match(await configErrorOf(() => parseCommandLine([inherited])), /unknown command/);
  }
  assert.match(
    await configErrorOf(() => parseCommandLine(["status", "--dry-run"])),
    /dry-run/,
  );
  for (
    const [text, pattern] of [
      ['{"staleAfter": "long"}', /: staleAfter: /],
      ['{"interval": 0}', /: interval: /],
      ['{"stale_after": 200}', /: stale_after: unknown setting/],
      ['{"exclude": ["AAAA"]}', /: exclude\.0: is not a WireGuard key/],
      ["{not json", /not valid JSON/],
    ] as const
  ) {
    const error = await withFile(
      text,
      async (path) =>
        loadSettings({ configPath: path, uciPath: null }, (await flags(["run"])).flags),
    ).then(
      () => assert.fail(`accepted ${text}`),
      (e) => e,
    );
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, pattern, text);
    assert.match(error.message, /\.json/);
  }
  const missing = await loadSettings({
    configPath: "/nonexistent/wg-reinstate.json",
    uciPath: null,
  }, (await flags(["run"])).flags).catch((
    e,
  ) => e);
  assert.match(
    missing.message,
    /\/nonexistent\/wg-reinstate\.json: cannot read config file: no such file/,
  );
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
  for (const cmd of ["run", "status", "daemon"]) {
    const help = await parseCommandLine([cmd, "--help"]);
    assert.strictEqual(help.kind, "help");
    assert.match(help.text, new RegExp(`Usage: wg-reinstate ${cmd}`));
  }
});
