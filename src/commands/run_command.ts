/**
 * `wg-reinstate run`: one purge cycle, then exit.
 *
 * @module
 */
import { CycleRunner } from "../cli/cycle_runner.ts";
import { PURGE_OPTIONS, SETTINGS_OPTIONS, WG_OPTIONS } from "../cli/options.ts";
import type { Subcommand } from "../cli/subcommand.ts";
import { ExitCode } from "../common/errors.ts";
import { flagOf } from "../config/settings_registry.ts";
import { printedReport } from "../purge/mod.ts";

/** The `run` subcommand. */
export const runCommand: Subcommand = {
  summary: "one purge cycle, then exit",
  description: `Purges, once, every peer whose latest handshake is older than ${
    flagOf("staleAfter")
  }:
the peer is removed and re-added in one wg call with the same allowed-ips,
preshared key and keepalive, so the interface forgets its endpoint. SIGTERM,
SIGINT or SIGHUP stops it between two wg calls; what it did is verified, and
it exits 1. --json prints the cycle report; its peers' idle times only with
--peer-times.`,
  options: [...SETTINGS_OPTIONS, ...WG_OPTIONS, ...PURGE_OPTIONS, "json", "peer-times"],
  purges: true,
  async run({ settings, json, peerTimes, wgFor, flows, now, print }) {
    // SIGTERM, SIGINT (Ctrl-C) or SIGHUP (the terminal closed) stops between
    // two wg calls, never inside one: each call runs in a session of its own.
    const runner = new CycleRunner(settings, { wgFor, flows, now, daemon: false });
    let report;
    try {
      report = await runner.cycle();
    } finally {
      runner.dispose();
    }
    if (json) print(JSON.stringify(printedReport(report, peerTimes), null, 2) + "\n");
    const stopped = report.interfaces.some((r) => r.stoppedEarly > 0);
    if (!report.ok || stopped) return ExitCode.runtime;
    return report.busy.length > 0 ? ExitCode.busy : ExitCode.ok;
  },
};
