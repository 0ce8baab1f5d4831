/**
 * `wg-reinstate run`: one purge cycle, then exit.
 *
 * @module
 */
import { ExitCode } from "../common/errors.ts";
import { cycleOptions } from "../config/cycle_options.ts";
import { runCycle } from "../purge/cycle.ts";
import type { Subcommand } from "./command.ts";
import { logger } from "./log.ts";

/** The `run` subcommand. */
export const runCommand: Subcommand = {
  summary: "one purge cycle, then exit",
  description: `Purges, once, every peer whose latest handshake is older than --stale-after:
the peer is removed and re-added in one wg call with the same allowed-ips,
preshared key and keepalive, so the interface forgets its endpoint.`,
  options: { "dry-run": { type: "boolean" }, json: { type: "boolean" } },
  optionsHelp: `      --dry-run             report what would be purged, change nothing
      --json                print the cycle report as JSON on stdout`,
  async run({ settings, json, wgFor, now, print }) {
    const report = await runCycle(
      wgFor(settings),
      cycleOptions(settings, now),
      logger("purge"),
    );
    if (json) print(JSON.stringify(report, null, 2) + "\n");
    if (!report.ok) return ExitCode.runtime;
    return report.busy.length > 0 ? ExitCode.busy : ExitCode.ok;
  },
};
