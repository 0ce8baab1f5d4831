/**
 * The procd init script, run by busybox's ash with recording stand-ins for
 * the procd and UCI functions, and checked by shellcheck.
 */
import assert from "node:assert/strict";
import { sh } from "../harness/sh.ts";
import { UCI_MAIN_OPTIONS, UCI_VALIDATION } from "../../src/config/uci_settings.ts";
import { IFACE_NAME_PATTERN, WG_KEY_SOURCE } from "../../src/wg/constants.ts";

const INIT = new URL("../../openwrt/files/wg-reinstate.init", import.meta.url).pathname;
const STUBS = new URL("../support/procd_stubs.sh", import.meta.url).pathname;
const RUN = new URL("../support/run_init.sh", import.meta.url).pathname;

async function runInit(
  fn: string,
  fixture: Record<string, string>,
  validateRc = 0,
): Promise<{ calls: string[][]; stderr: string; code: number }> {
  const dir = await Deno.makeTempDir({ prefix: "wr-init-" });
  try {
    await Deno.writeTextFile(
      `${dir}/fixture`,
      Object.entries(fixture).map(([k, v]) => `${k}=${v}\n`).join(""),
    );
    await Deno.writeTextFile(`${dir}/record`, "");
    const r = await sh(["busybox", "sh", RUN, STUBS, INIT, fn], {
      allowFail: true,
      env: {
        PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
        RECORD: `${dir}/record`,
        FIXTURE: `${dir}/fixture`,
        VALIDATE_RC: String(validateRc),
      },
    });
    const text = await Deno.readTextFile(`${dir}/record`);
    return {
      calls: text.split("\n").filter((l) => l !== "").map((l) => l.split("\t")),
      stderr: r.stderr,
      code: r.code,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("init script start_service starts the daemon with the chosen procd parameters", async () => {
  const { calls, code, stderr } = await runInit("start_service", { enabled: "1" });
  assert.strictEqual(code, 0, stderr);
  assert.deepStrictEqual(calls, [
    [
      "uci_load_validate",
      "wg-reinstate",
      "wg-reinstate",
      "main",
      "start_wg_reinstate",
      ...UCI_VALIDATION,
    ],
    ["procd_open_instance"],
    [
      "procd_set_param",
      "command",
      "/usr/bin/wg-reinstate",
      "daemon",
      "--uci",
      "/etc/config/wg-reinstate",
      "--log-timestamps",
      "off",
    ],
    ["procd_set_param", "respawn", "300", "10", "5"],
    ["procd_set_param", "stdout", "1"],
    ["procd_set_param", "stderr", "1"],
    ["procd_set_param", "term_timeout", "30"],
    ["procd_set_param", "reload_signal", "HUP"],
    ["procd_set_param", "file", "/etc/config/wg-reinstate", "/etc/config/network"],
    ["procd_close_instance"],
  ]);
});

Deno.test("init script does not start, with a log line, when enabled is 0", async () => {
  const { calls, code } = await runInit("start_service", { enabled: "0" });
  assert.strictEqual(code, 0);
  assert.deepStrictEqual(calls.slice(1), [
    [
      "logger",
      "-t",
      "wg-reinstate",
      "-p",
      "daemon.notice",
      "disabled in /etc/config/wg-reinstate (option enabled), not starting",
    ],
  ]);
});

Deno.test("init script does not start when validation fails", async () => {
  const { calls, code, stderr } = await runInit("start_service", { enabled: "1" }, 1);
  assert.strictEqual(code, 1);
  assert.strictEqual(calls.length, 1, "only the validation call");
  assert.match(stderr, /validation of \/etc\/config\/wg-reinstate failed, not starting/);
});

Deno.test("init script registers reload triggers for its config and the network, and its validation", async () => {
  const { calls } = await runInit("service_triggers", {});
  assert.deepStrictEqual(calls, [
    ["procd_add_reload_trigger", "wg-reinstate", "network"],
    ["procd_add_validation", "validate_wg_reinstate_section"],
  ]);
});

Deno.test("init script validates exactly the options the daemon reads, as its registry types them", async (t) => {
  // start_service passes UCI_VALIDATION (see above); here, what that list says.
  const spec = (name: string) => UCI_VALIDATION.find((s) => s.startsWith(`${name}:`));
  await t.step("every option the daemon reads, in its order", () => {
    assert.deepStrictEqual(UCI_VALIDATION.map((s) => s.split(":")[0]), UCI_MAIN_OPTIONS);
  });
  await t.step("the key and interface patterns: the program's own", () => {
    // The shell cannot import them.
    assert.strictEqual(spec("exclude"), `exclude:list(regex("${WG_KEY_SOURCE}"))`);
    assert.strictEqual(
      spec("interface"),
      `interface:list(regex("${IFACE_NAME_PATTERN.source.slice(1, -1)}"))`,
    );
  });
  const cases: [string, string][] = [
    ["enabled", "enabled:bool:1"],
    ["stale_after", "stale_after:range(1,31536000):180"],
    ["log_level", 'log_level:or("debug","info","warning","error"):info'],
    ["wg_timeout", "wg_timeout:and(ufloat,max(600)):10"],
    ["network_config", "network_config:file"],
    ["metrics_file", "metrics_file:string"],
  ];
  for (const [name, expected] of cases) {
    await t.step(`${name}: a datatype validate_data knows, and the default`, () => {
      assert.strictEqual(spec(name), expected);
    });
  }
});

Deno.test("init script sets START after the network and passes shellcheck", async () => {
  const text = await Deno.readTextFile(INIT);
  assert.match(text, /^#!\/bin\/sh \/etc\/rc\.common\n/);
  assert.strictEqual(Number(/^START=(\d+)$/m.exec(text)![1]) > 20, true);
  assert.match(text, /^USE_PROCD=1$/m);
  // shellcheck 0.9 (Debian 12) has no busybox dialect; dash is the closest (it knows `local`).
  const r = await sh(["shellcheck", "--shell=dash", "--severity=style", INIT, STUBS, RUN], {
    allowFail: true,
  });
  assert.strictEqual(r.code, 0, r.stdout + r.stderr);
});
