/**
 * `wg-reinstate daemon`: a purge cycle at start, then one at each peer's
 * deadline (purge/schedule.ts): the moment its session is certainly dead,
 * or a replayed endpoint has stood long enough. It sleeps at most
 * `interval` seconds, and an idle daemon reads once per stale-after.
 * SIGTERM and SIGINT stop the running cycle between two `wg` calls (what it
 * did is verified and repaired), then the loop returns;
 * SIGHUP reloads the settings from all their sources (files; flags still
 * win) and runs a cycle with them once the signals settle.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { CycleRunner } from "../cli/cycle_runner.ts";
import { logger } from "../cli/log.ts";
import { PURGE_OPTIONS, SETTINGS_OPTIONS, WG_OPTIONS } from "../cli/options.ts";
import type { StopSignals } from "../cli/signals.ts";
import type { Subcommand } from "../cli/subcommand.ts";
import { ExitCode } from "../common/errors.ts";
import { flagOf, SETTINGS } from "../config/settings_registry.ts";
import type { Settings } from "../config/schema.ts";
import { redactText } from "../wg/redact.ts";
import { CycleBudget, type CycleReport, sleepSeconds } from "../purge/mod.ts";

/** A wake this close before the grid's next point is on it: timers fire a little early. */
const GRID_SLACK_S = 0.05;

/** What the sleep after a cycle is made from, besides what the cycle cost. */
export type CycleTiming = Pick<CycleReport, "nextDeadline" | "uneventful">;

/** The `daemon` subcommand. */
export const daemonCommand: Subcommand = {
  summary: "a purge cycle at each peer's deadline",
  description: `Runs a purge cycle at start, then one at each peer's deadline: about a second
after its session is certainly dead (${flagOf("staleAfter")} after its latest handshake), or
once an endpoint without a handshake has stood 15 s on a peer it purged. It
sleeps at most ${flagOf("interval")} seconds (an idle daemon reads once per ${
    flagOf("staleAfter")
  }).
SIGTERM or SIGINT stops the running cycle between two wg calls (what it did is
verified and repaired), then exits 0. SIGHUP reloads the settings from all
their sources (flags still win) and runs a cycle 3 s after the last SIGHUP.`,
  options: [...SETTINGS_OPTIONS, ...WG_OPTIONS, ...PURGE_OPTIONS, SETTINGS.interval.flag],
  purges: true,
  async run({ settings, reload, wgFor, flows, now }) {
    // The runner keeps the daemon's memory of peer states across cycles and reloads.
    const runner = new CycleRunner(settings, { wgFor, flows, now, daemon: true });
    try {
      // A status or metrics path that cannot be written ends the daemon at
      // start (exit 2), and makes a reload keep the settings it had.
      await runner.check();
      await runDaemon(settings, {
        log: logger("daemon"),
        signals: runner.signals,
        cycle: (current, _stop, quiet) => {
          runner.update(current);
          return runner.cycle(quiet);
        },
        reload: async () => {
          const next = await reload();
          await runner.check(next);
          return next;
        },
        now,
      });
    } finally {
      runner.dispose();
    }
    return ExitCode.ok;
  },
};

/** What the loop needs; injected so tests can drive it without signals or real time. */
export interface DaemonHooks {
  /**
   * Runs one cycle with the given settings and returns its report, whose
   * `nextDeadline` sets the sleep after it. `quiet`: a cycle at a peer's
   * deadline, not on the daemon's grid (see {@link runDaemon}). Errors are
   * logged and the loop goes on, after the longest sleep. `stop` fires on
   * SIGTERM or SIGINT: the cycle then starts no new `wg` call, and verifies
   * and repairs what it did.
   */
  cycle: (settings: Settings, stop: AbortSignal, quiet: boolean) => Promise<CycleTiming | void>;
  /** The wall clock, unix seconds; default `Date.now`. */
  now?: () => number;
  /** A monotonic clock in seconds, for the cycles' budget; default `performance.now`. */
  monotonic?: () => number;
  /** Loads settings again (SIGHUP). A failure keeps the previous settings. */
  reload: () => Promise<Settings>;
  log: Logger;
  /** The stop request, SIGHUP and the sleeps they cut short; the caller disposes of it. */
  signals: StopSignals;
  /**
   * Milliseconds to wait after the last SIGHUP before the cycle (default 3000). On
   * OpenWrt a config change reloads netifd and this daemon together; the wait
   * lets `wg setconf` finish first, so a peer just removed there is not read
   * by this cycle and re-added.
   */
  settleMs?: number;
}

/**
 * Runs until SIGTERM or SIGINT. Resolves once the cycle that was running
 * when the signal came has finished.
 *
 * Its cycles are on a grid, one every `interval` seconds from its start (and
 * after a reload), which it always logs and records; and at peers'
 * deadlines between them, which it logs and records only when they purge,
 * repair or fail: the time of such a cycle follows from one peer's
 * handshake time, so an uneventful one leaves no trace (no line, no
 * record, no count).
 */
export async function runDaemon(initial: Settings, hooks: DaemonHooks): Promise<void> {
  const { signals } = hooks;
  let settings = initial;
  const now = hooks.now ?? (() => Date.now() / 1000);
  const monotonic = hooks.monotonic ?? (() => performance.now() / 1000);
  const budget = new CycleBudget();
  hooks.log.info("daemon started: a cycle at each peer's deadline, at least every {interval} s", {
    interval: settings.interval,
  });
  let grid = monotonic();
  while (!signals.stop.aborted) {
    let onGrid = monotonic() >= grid - GRID_SLACK_S;
    if (signals.reloadWanted) {
      if (!(await signals.settle(hooks.settleMs ?? 3000))) break;
      settings = await reload(hooks, settings);
      onGrid = true;
    }
    if (onGrid) grid = monotonic() + settings.interval;
    let timing: CycleTiming = { nextDeadline: null, uneventful: false };
    const started = monotonic();
    try {
      timing = (await hooks.cycle(settings, signals.stop, !onGrid)) ?? timing;
    } catch (error) {
      hooks.log.error("cycle failed: {error}", { error: errorText(error) });
    }
    releaseMemory();
    if (onGrid || !timing.uneventful) logMemory(hooks.log);
    if (signals.stop.aborted || signals.reloadWanted) continue;
    // All a cycle costs: its records and the collection after it too.
    const cost = monotonic() - started;
    budget.spend(cost, monotonic());
    // Not logged: the next deadline follows from one peer's handshake time.
    const sleep = sleepSeconds(
      timing.nextDeadline,
      now(),
      budget.waitFor(cost, monotonic()),
      settings.interval,
    );
    await signals.sleep(Math.min(sleep, Math.max(0, grid - monotonic())) * 1000);
  }
  hooks.log.info("daemon stopping on signal");
}

/** The settings loaded again; on failure, logged, the `current` ones. */
async function reload(hooks: DaemonHooks, current: Settings): Promise<Settings> {
  try {
    const settings = await hooks.reload();
    hooks.log.info("settings reloaded");
    return settings;
  } catch (error) {
    hooks.log.error("reload failed, keeping the previous settings: {error}", {
      error: errorText(error),
    });
    return current;
  }
}

function errorText(error: unknown): string {
  return redactText(error instanceof Error ? error.message : String(error));
}

/**
 * At debug level, what the process holds after a cycle: a long-running
 * daemon's budget. Measured only when the line is written.
 */
function logMemory(log: Logger): void {
  const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;
  log.debug(
    "memory after the cycle: rss {rss} MB, V8 heap {heapUsed} of {heapTotal} MB, external {external} MB",
    () => {
      const { rss, heapUsed, heapTotal, external } = Deno.memoryUsage();
      return {
        rss: mb(rss),
        heapUsed: mb(heapUsed),
        heapTotal: mb(heapTotal),
        external: mb(external),
      };
    },
  );
}

/**
 * Collects the cycle's garbage before the daemon sleeps, when the runtime
 * allows it (`--v8-flags=--expose-gc`, baked into the release binaries): a
 * full collection lets V8 return the pages a large cycle grew into, so the
 * daemon rests near its size before the cycle instead of at its peak.
 */
function releaseMemory(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
}
