/**
 * `wg-reinstate daemon`: a purge cycle at start and every `interval` seconds.
 * SIGTERM and SIGINT stop the running cycle between two `wg` calls (what it
 * did is verified and repaired), then the loop returns;
 * SIGHUP reloads the settings and runs a cycle with them right away.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { ExitCode } from "../common/errors.ts";
import { cycleOptions } from "../config/cycle_options.ts";
import type { Settings } from "../config/schema.ts";
import { runCycle } from "../purge/cycle.ts";
import { PeerObservations } from "../purge/observations.ts";
import { redactText } from "../wg/redact.ts";
import type { Subcommand } from "./command.ts";
import { processSignals, type SignalSource } from "./signals.ts";
import { logger } from "./log.ts";
import { PURGE_OPTIONS, SETTINGS_OPTIONS, WG_OPTIONS } from "./options.ts";
import { runRecordedCycle } from "./recorded_cycle.ts";

/** The `daemon` subcommand. */
export const daemonCommand: Subcommand = {
  summary: "a purge cycle every --interval seconds",
  description: `Runs a purge cycle at start and then every --interval seconds. SIGTERM or
SIGINT stops the running cycle between two wg calls (what it did is verified
and repaired), then exits 0. SIGHUP reloads --config.`,
  options: [...SETTINGS_OPTIONS, ...WG_OPTIONS, ...PURGE_OPTIONS, "interval"],
  purges: true,
  async run({ settings, reload, wgFor, now }) {
    // The daemon's memory of peer states, kept across cycles and reloads.
    const observe = {
      observations: new PeerObservations(),
      monotonic: () => performance.now() / 1000,
    };
    await runDaemon(settings, {
      log: logger("daemon"),
      cycle: (current, stop) => {
        const log = logger("purge");
        return runRecordedCycle(
          current,
          () =>
            runCycle(wgFor(current, stop), { ...cycleOptions(current, now, observe), stop }, log),
          now,
          log,
        );
      },
      reload,
    });
    return ExitCode.ok;
  },
};

/** What the loop needs; injected so tests can drive it without signals or real time. */
export interface DaemonHooks {
  /**
   * Runs one cycle with the given settings. Errors are logged and the loop
   * goes on. `stop` fires on SIGTERM or SIGINT: the cycle then starts no new
   * `wg` call, and verifies and repairs what it did.
   */
  cycle: (settings: Settings, stop: AbortSignal) => Promise<unknown>;
  /** Loads settings again (SIGHUP). A failure keeps the previous settings. */
  reload: () => Promise<Settings>;
  log: Logger;
  /** Where signal handlers are installed; defaults to the process's own signals. */
  signals?: SignalSource;
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
 */
export async function runDaemon(initial: Settings, hooks: DaemonHooks): Promise<void> {
  const signals = hooks.signals ?? processSignals;
  let settings = initial;
  const stop = new AbortController();
  let reloadWanted = false;
  let wake: (() => void) | null = null;
  const onStop = () => {
    stop.abort();
    wake?.();
  };
  const onReload = () => {
    reloadWanted = true;
    wake?.();
  };
  signals.add("SIGTERM", onStop);
  signals.add("SIGINT", onStop);
  signals.add("SIGHUP", onReload);
  hooks.log.info("daemon started: a cycle every {interval} s", { interval: settings.interval });
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => (wake = null));
  try {
    while (!stop.signal.aborted) {
      if (reloadWanted) {
        // Every HUP restarts the settle, so the cycle runs `settle` after the
        // last one: OpenWrt sends a pair when both config files change, and
        // netifd's `wg setconf` must finish before the cycle reads.
        while (reloadWanted && !stop.signal.aborted) {
          reloadWanted = false;
          await sleep(hooks.settleMs ?? 3000);
        }
        if (stop.signal.aborted) break;
        try {
          settings = await hooks.reload();
          hooks.log.info("settings reloaded");
        } catch (error) {
          hooks.log.error("reload failed, keeping the previous settings: {error}", {
            error: redactText(error instanceof Error ? error.message : String(error)),
          });
        }
      }
      try {
        await hooks.cycle(settings, stop.signal);
      } catch (error) {
        hooks.log.error("cycle failed: {error}", {
          error: redactText(error instanceof Error ? error.message : String(error)),
        });
      }
      releaseMemory();
      logMemory(hooks.log);
      if (stop.signal.aborted || reloadWanted) continue;
      await sleep(settings.interval * 1000);
    }
    hooks.log.info("daemon stopping on signal");
  } finally {
    signals.remove("SIGTERM", onStop);
    signals.remove("SIGINT", onStop);
    signals.remove("SIGHUP", onReload);
  }
}

/** At debug level, what the process holds after a cycle: a long-running daemon's budget. */
function logMemory(log: Logger): void {
  const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;
  const { rss, heapUsed, heapTotal, external } = Deno.memoryUsage();
  log.debug(
    "memory after the cycle: rss {rss} MB, V8 heap {heapUsed} of {heapTotal} MB, external {external} MB",
    {
      rss: mb(rss),
      heapUsed: mb(heapUsed),
      heapTotal: mb(heapTotal),
      external: mb(external),
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
