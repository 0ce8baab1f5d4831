/**
 * The command line in one voice: every bad flag, value or argument is one
 * line, `--flag: problem (see wg-reinstate CMD --help)`, exit code 2, before
 * anything is read or changed; and each subcommand's `--help` lists exactly
 * the options its parser accepts. No cycle runs here: argv goes through
 * parsing and the settings sources only, as `main` takes it before running.
 */
import assert from "node:assert/strict";
import { BAD_FLAGS, see } from "../support/bad_flags.ts";
import { parseCommandLine, typed } from "../../src/cli/args.ts";
import { type OptionName, OPTIONS, type OptionSpec } from "../../src/cli/options.ts";
import { ConfigError, ExitCode } from "../../src/common/errors.ts";
import { loadSettings } from "../../src/config/load.ts";
import { COMMANDS } from "../../src/main.ts";
import { key } from "../support/peers.ts";

/** Parses argv and loads its settings as `main` does; returns the error's message. */
async function usageErrorOf(argv: readonly string[]): Promise<string> {
  try {
    const cmd = await parseCommandLine(argv, COMMANDS);
    // No --config or --uci in these cases: only the flags are loaded.
    if (cmd.kind === "command") await loadSettings({ configPath: null, uciPath: null }, cmd.flags);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.strictEqual(error.exitCode, ExitCode.usage);
    return error.message;
  }
  assert.fail(`accepted: ${JSON.stringify(argv)}`);
}

Deno.test("parseCommandLine refuses every bad flag in one voice, with exit code 2", async (t) => {
  for (const [argv, message] of BAD_FLAGS) {
    await t.step(JSON.stringify(argv), async () => {
      assert.strictEqual(await usageErrorOf(argv), message);
    });
  }
});

Deno.test("parseCommandLine never echoes a control character it refuses", async () => {
  for (const [argv] of BAD_FLAGS) {
    const message = await usageErrorOf(argv);
    assert.ok(![...message].some((c) => c < " " || c === "\x7f"), JSON.stringify(argv));
  }
});

Deno.test("typed shows printable text as typed and quotes the rest", () => {
  assert.strictEqual(typed("--nope"), "--nope");
  assert.strictEqual(typed("a b"), '"a b"');
  assert.strictEqual(typed("a\nb"), '"a\\nb"');
  assert.strictEqual(typed("a\x7fb\x9b"), '"a\\u007fb\\u009b"');
});

Deno.test("parseCommandLine takes negative and inline values as values", async () => {
  const cmd = await parseCommandLine(
    ["run", "--stale-after=60", "--force-short-threshold", "-iwg0", "--exclude", key("a")],
    COMMANDS,
  );
  assert.strictEqual(cmd.kind, "command");
  const settings = await loadSettings({ configPath: null, uciPath: null }, cmd.flags);
  assert.strictEqual(settings.staleAfter, 60);
  assert.deepStrictEqual(settings.interfaces, ["wg0"]);
  assert.deepStrictEqual(settings.exclude, [key("a")]);
});

/** The long flags a help text lists, `--help` included. */
function listedIn(help: string): string[] {
  return [...help.matchAll(/^ {2}(?:-[A-Za-z], | {4})--([a-z][a-z-]*)/gm)].map((m) => m[1]).sort();
}

/** Whether `command` accepts `--name` (a bad value is still accepted: the option is its). */
async function accepts(command: string, name: OptionName): Promise<boolean> {
  const argv = [command, `--${name}`, ...((OPTIONS[name] as OptionSpec).value ? ["x"] : [])];
  try {
    await parseCommandLine(argv, COMMANDS);
    return true;
  } catch (error) {
    return !(error instanceof Error && error.message.includes(`${command} does not use`));
  }
}

/** The options each subcommand uses, in --help order: the README's table follows this. */
const EXPECTED: Record<string, string> = {
  run: "interface stale-after force-short-threshold exclude wg-quick-config networkd-dirs " +
    "netplan-dirs network-manager-dirs config uci network dry-run json peer-times log-level " +
    "log-format log-timestamps wg wg-timeout key-dir lock-dir status-file metrics-file " +
    "argv-budget help",
  status: "interface stale-after force-short-threshold exclude wg-quick-config networkd-dirs " +
    "netplan-dirs network-manager-dirs config uci " +
    "network json peer-times log-level log-format log-timestamps wg wg-timeout status-file help",
  daemon: "interface stale-after force-short-threshold exclude wg-quick-config networkd-dirs " +
    "netplan-dirs network-manager-dirs config uci " +
    "network interval dry-run log-level log-format log-timestamps wg wg-timeout key-dir " +
    "lock-dir status-file metrics-file argv-budget help",
  config: "interface stale-after force-short-threshold exclude wg-quick-config networkd-dirs " +
    "netplan-dirs network-manager-dirs config uci " +
    "network log-level log-format log-timestamps help",
};

Deno.test("each subcommand's --help lists exactly the options its parser accepts", async (t) => {
  for (const command of Object.keys(COMMANDS)) {
    await t.step(command, async () => {
      const help = await parseCommandLine([command, "--help"], COMMANDS);
      assert.strictEqual(help.kind, "help");
      const listed = listedIn(help.text);
      const accepted = [];
      for (const name of Object.keys(OPTIONS) as OptionName[]) {
        if (await accepts(command, name)) accepted.push(name);
      }
      assert.deepStrictEqual(listed, accepted.sort());
      const inOrder = [...help.text.matchAll(/^ {2}(?:-[A-Za-z], | {4})--([a-z][a-z-]*)/gm)];
      assert.strictEqual(inOrder.map((m) => m[1]).join(" "), EXPECTED[command]);
    });
  }
});

Deno.test("config and status --help mention no option they do not use", async () => {
  const unused: Record<string, string[]> = {
    config: ["wg", "wg-timeout", "key-dir", "lock-dir", "argv-budget", "metrics-file", "json"],
    status: ["key-dir", "lock-dir", "argv-budget", "metrics-file", "dry-run", "interval"],
  };
  for (const [command, flags] of Object.entries(unused)) {
    const help = await parseCommandLine([command, "--help"], COMMANDS);
    assert.strictEqual(help.kind, "help");
    for (const flag of flags) {
      assert.doesNotMatch(help.text, new RegExp(`--${flag}(?![a-z-])`), `${command}: --${flag}`);
    }
  }
});

Deno.test("--help wins wherever it stands, but not as another option's value", async () => {
  assert.strictEqual(
    (await parseCommandLine(["status", "--key-dir", "x", "-h"], COMMANDS)).kind,
    "help",
  );
  assert.strictEqual(
    await usageErrorOf(["run", "-i", "--help"]),
    `--interface: needs a value ${see("run")}`,
  );
});
