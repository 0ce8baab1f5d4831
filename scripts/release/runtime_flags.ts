/**
 * The runtime flags the program runs with: baked into the compiled binaries
 * by scripts/release/build.ts, and used for `deno run` of the bundle. The
 * permissions each say why they are needed; README.md lists them too.
 *
 * @module
 */
import { RUN_DIR } from "../../src/common/paths.ts";
import { CONNTRACK_PATHS } from "../../src/wg/conntrack.ts";
import { SETTINGS } from "../../src/config/settings_registry.ts";

/** One permission flag and the reason for it. */
export interface Permission {
  flag: string;
  why: string;
}

/**
 * Where a metrics file may go: OpenWrt's prometheus-node-exporter-lua-textfile
 * reads /var/prometheus; on servers, a directory of the tool's own that
 * node_exporter's `--collector.textfile.directory` points at.
 */
const METRICS_DIRS = "/var/prometheus,/tmp/prometheus,/var/lib/wg-reinstate";

/**
 * The run directory by each of its names: the runtime checks an open file's
 * `stat` against its real path, and /var/run is a link to /run on Debian,
 * while on OpenWrt /var is a link to /tmp.
 */
const RUN_DIRS = `${RUN_DIR},/run/wg-reinstate,/tmp/run/wg-reinstate`;

/** The directories systemd-networkd, netplan and NetworkManager keep their files in. */
const CONFIGURATOR_DIRS = [SETTINGS.networkdDirs, SETTINGS.netplanDirs, SETTINGS.networkManagerDirs]
  .map((s) => s.default.replaceAll(":", ",")).join(",");

/** The minimum set. Anything else (network, other files, env) is denied. */
export const PERMISSIONS: readonly Permission[] = [
  {
    flag:
      "--allow-run=wg,/usr/bin/wg,/usr/sbin/wg,/usr/local/bin/wg,kill,/bin/kill,/usr/bin/kill," +
      CONNTRACK_PATHS.join(","),
    why: "the wg tool, by name (PATH) or at its usual absolute paths; `kill`, which ends " +
      "the process group of a `wg` call that passed its time limit (Deno.kill of a group " +
      "would need --allow-run for every program); and `conntrack`, which deletes the tracked " +
      "flows of a purged interface's port where conntrack-tools is installed, at its usual " +
      "paths only (for a name that is not in PATH, Deno prints a notice at every start)",
  },
  {
    flag: "--allow-read=/etc/wireguard,/etc/config,/etc/wg-reinstate," +
      `${CONFIGURATOR_DIRS},${RUN_DIRS},${METRICS_DIRS}`,
    why: "wg-quick files, OpenWrt's UCI files, a JSON config, the files of systemd-networkd, " +
      "netplan and NetworkManager, its own run directory, the metrics directories",
  },
  {
    flag: "--allow-sys=uid,osUptime",
    why: "its own uid, for the rule that every directory it writes to is its own; the uptime, " +
      "by which the status file's counters restart after a reboot",
  },
  {
    flag: "--allow-env=JOURNAL_STREAM",
    why: "systemd's mark of a stream journald reads: log lines then carry no time stamp of ours",
  },
  {
    flag: `--allow-write=${RUN_DIRS},${METRICS_DIRS}`,
    why: "the private preshared-key directories (0700, removed after each cycle), the lock " +
      "files, the status file, and a metrics file in OpenWrt's textfile directory or in " +
      "/var/lib/wg-reinstate",
  },
];

/** The permission flags alone, for `deno compile` and `deno run`. */
export const PERMISSION_FLAGS: readonly string[] = PERMISSIONS.map((p) => p.flag);

/**
 * A 1 MB V8 young generation instead of up to 16 MB: the benchmark measured
 * 36 MB less peak memory at 10,000 peers (docs/benchmarks.md), which matters
 * more on a router than the little extra garbage-collection time. And `gc()`
 * for the daemon, which collects after each cycle so that V8 gives back the
 * pages a large cycle grew into before it sleeps (at 10,000 peers it then
 * rests at 98 MB instead of 129 MB).
 */
export const V8_FLAGS: readonly string[] = ["--v8-flags=--max-semi-space-size=1,--expose-gc"];

/** Everything, for `deno compile` and `deno run`. */
export const RUNTIME_FLAGS: readonly string[] = [...V8_FLAGS, ...PERMISSION_FLAGS];

if (import.meta.main) console.log(RUNTIME_FLAGS.join(" "));
