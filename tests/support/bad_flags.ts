/**
 * Bad command lines and the one line each must be refused with (without the
 * `wg-reinstate: ` prefix), shared by the parser's, main's and the process's
 * tests.
 *
 * @module
 */

/** The pointer to a command's help that ends every message. */
export const see = (command: string) => `(see wg-reinstate ${command} --help)`;

/** argv, and the one line it must be refused with (without the `wg-reinstate: ` prefix). */
export const BAD_FLAGS: [string[], string][] = [
  [["run", "--stale-after", "60"], `--stale-after: must be at least 180 ${see("run")}`],
  [["run", "--stale-after", "-5"], `--stale-after: must be at least 180 ${see("run")}`],
  [["run", "--stale-after=-5"], `--stale-after: must be at least 180 ${see("run")}`],
  [
    ["run", "--stale-after", "0", "--force-short-threshold"],
    `--stale-after: must be at least 1 ${see("run")}`,
  ],
  [
    ["run", "--stale-after", "99999999999999999999999"],
    `--stale-after: must be at most 31536000 ${see("run")}`,
  ],
  [
    ["run", "--stale-after", "9".repeat(400)],
    `--stale-after: must be at most 31536000 ${see("run")}`,
  ],
  [["run", "--stale-after", "abc"], `--stale-after: must be a whole number ${see("run")}`],
  [["run", "--stale-after", "1.5"], `--stale-after: must be a whole number ${see("run")}`],
  [["run", "--stale-after"], `--stale-after: needs a value ${see("run")}`],
  [["run", "--stale-after="], `--stale-after: needs a value ${see("run")}`],
  [["daemon", "--interval", "0"], `--interval: must be at least 1 ${see("daemon")}`],
  [["daemon", "--interval", "86401"], `--interval: must be at most 86400 ${see("daemon")}`],
  [["status", "--wg-timeout", "0"], `--wg-timeout: must be above 0 ${see("status")}`],
  [["status", "--wg-timeout", "1e3"], `--wg-timeout: must be a number ${see("status")}`],
  [["run", "--argv-budget", "100"], `--argv-budget: must be at least 4096 ${see("run")}`],
  [["run", "-i", "-h"], `--interface: needs a value ${see("run")}`],
  [["run", "--interface", "--json"], `--interface: needs a value ${see("run")}`],
  [["run", "-i"], `--interface: needs a value ${see("run")}`],
  [
    ["run", "-i", "all", "-i", "wg0"],
    `--interface: "all" cannot be combined with interface names ${see("run")}`,
  ],
  [
    ["config", "-i", "wg0;rm"],
    "--interface: is not a valid interface name (1-15 of A-Z a-z 0-9 _ = + . -, not starting " +
    `with -) ${see("config")}`,
  ],
  [
    ["run", "--exclude", "nope"],
    `--exclude: is not a WireGuard key (44 characters of base64 ending in '=') ${see("run")}`,
  ],
  [
    ["run", "--log-level", "loud"],
    `--log-level: must be debug, info, warning or error ${see("run")}`,
  ],
  [
    ["config", "--log-timestamps", "x"],
    `--log-timestamps: must be auto, on or off ${see("config")}`,
  ],
  [["run", "--json=yes"], `--json: takes no value ${see("run")}`],
  [["run", "--nope"], `--nope: unknown option ${see("run")}`],
  [["run", "--nope=3"], `--nope: unknown option ${see("run")}`],
  [["run", "-x"], `-x: unknown option ${see("run")}`],
  [["run", "wg0"], `wg0: unexpected argument ${see("run")}`],
  [["run", "--", "wg0"], `wg0: unexpected argument ${see("run")}`],
  [["status", "--key-dir", "/tmp"], `--key-dir: status does not use this option ${see("status")}`],
  [["status", "--dry-run"], `--dry-run: status does not use this option ${see("status")}`],
  [["config", "--wg", "wg"], `--wg: config does not use this option ${see("config")}`],
  [["config", "--json"], `--json: config does not use this option ${see("config")}`],
  [["run", "--interval", "30"], `--interval: run does not use this option ${see("run")}`],
  [["daemon", "--json"], `--json: daemon does not use this option ${see("daemon")}`],
  [
    ["run", "--status-file", "/tmp/a\nb"],
    `--status-file: must not contain control characters ${see("run")}`,
  ],
  [["run", "--config", "/tmp/a\rb"], `--config: must not contain control characters ${see("run")}`],
  [["status", "--wg", "wg\x7f"], `--wg: must not contain control characters ${see("status")}`],
  [
    ["run", "--key-dir", "/tmp/\x1b[2J"],
    `--key-dir: must not contain control characters ${see("run")}`,
  ],
  [["run", "--status-file", ""], `--status-file: needs a value ${see("run")}`],
  [["run", "a\nb"], `"a\\nb": unexpected argument ${see("run")}`],
  [["run", "--a\nb"], `"--a\\nb": unknown option ${see("run")}`],
  [[], "no command given (see wg-reinstate --help)"],
  [
    ["purge"],
    "purge: unknown command; the commands are run, status, daemon and config " +
    "(see wg-reinstate --help)",
  ],
  [
    ["__proto__"],
    "__proto__: unknown command; the commands are run, status, daemon and config " +
    "(see wg-reinstate --help)",
  ],
  [
    ["-i", "wg0", "run"],
    "-i: unknown option; options go after the command (see wg-reinstate --help)",
  ],
  [
    ["status", "--lock-dir", "/tmp"],
    `--lock-dir: status does not use this option ${see("status")}`,
  ],
  [
    ["config", "--metrics-file", "/tmp/m"],
    `--metrics-file: config does not use this option ${see("config")}`,
  ],
  [
    ["run", "--wg-quick-config", "/tmp/a\nb.conf"],
    `--wg-quick-config: must not contain control characters ${see("run")}`,
  ],
  [
    ["status", "--status-file", "/tmp/x\nwg-reinstate: forged"],
    `--status-file: must not contain control characters ${see("status")}`,
  ],
  [
    ["status", "-i", "a b"],
    "--interface: is not a valid interface name (1-15 of A-Z a-z 0-9 _ = + . -, not starting with -) " +
    see("status"),
  ],
  [[], "no command given (see wg-reinstate --help)"],
];
