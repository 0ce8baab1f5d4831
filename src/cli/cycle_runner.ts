/**
 * The one runner of purge cycles, for `run` (one cycle) and the daemon (a
 * cycle every interval): it owns the signals, one `wg` runner for the
 * process, the cycle options, and the recording of each cycle (the status
 * file and the metrics). Each directory a cycle writes to is checked once
 * per cycle (common/dir_checks.ts) and checked again just before a write;
 * the status and metrics files are checked before the cycle changes
 * anything (record/recorded_cycle.ts); {@link CycleRunner.check} checks
 * them without a cycle, for the daemon at start and for reloaded settings.
 *
 * @module
 */
import { DirChecks } from "../common/dir_checks.ts";
import { cycleOptions } from "../config/cycle_options.ts";
import { labelOf } from "../config/settings_registry.ts";
import type { Settings } from "../config/schema.ts";
import { type CycleOptions, type CycleReport, PeerObservations, runCycle } from "../purge/mod.ts";
import { checkOutputs, runRecordedCycle } from "../record/recorded_cycle.ts";
import type { Wg } from "../wg/command.ts";
import type { Flows } from "../wg/conntrack.ts";
import { logger } from "./log.ts";
import { processSignals, type SignalSource, StopSignals } from "./signals.ts";
import type { Invocation } from "./subcommand.ts";

/** The settings the `wg` runner is built from: a reload rebuilds it only when one changed. */
const WG_SETTINGS = ["wg", "wgTimeout", "argvBudget"] as const satisfies (keyof Settings)[];

/** How a {@link CycleRunner} reaches the outside world, and which command it serves. */
export interface RunnerOptions {
  /** Builds the `wg` runner: once, and again after a change ({@link CycleRunner.update}). */
  wgFor: Invocation["wgFor"];
  /** The wall clock, unix seconds. */
  now: () => number;
  /** Where a purge's connection-tracking flows are deleted; absent or `null`: nowhere. */
  flows?: Flows | null;
  /**
   * The daemon: keep a memory of peer states across cycles and reloads, and
   * take SIGHUP as a reload. A `run` has no memory, and takes SIGHUP as a stop.
   */
  daemon: boolean;
  /** Where signal handlers are installed; default the process's own signals. */
  signals?: SignalSource;
}

/** Runs recorded purge cycles with the current settings. Call {@link dispose} when done. */
export class CycleRunner {
  /** SIGTERM, SIGINT and (for `run`) SIGHUP: a stop request; for the daemon SIGHUP: a reload. */
  readonly signals: StopSignals;
  #settings: Settings;
  /** Built by the first cycle that needs it, inside it, so that a failure is recorded. */
  #wg: Wg | null = null;
  readonly #options: RunnerOptions;
  readonly #observe: CycleOptions["observe"];
  #dirs: DirChecks | null = null;

  /** Installs the signal handlers. */
  constructor(settings: Settings, options: RunnerOptions) {
    this.#options = options;
    this.signals = new StopSignals(options.signals ?? processSignals, options.daemon);
    this.#settings = settings;
    this.#observe = options.daemon
      ? { observations: new PeerObservations(), monotonic: () => performance.now() / 1000 }
      : undefined;
  }

  /** The settings the next cycle runs with. */
  get settings(): Settings {
    return this.#settings;
  }

  /** How many directory chains the last cycle walked (safeDir): for tests and tuning. */
  get dirWalks(): number {
    return this.#dirs?.walks ?? 0;
  }

  /**
   * Takes new settings (a reload). The `wg` runner is rebuilt, by the next
   * cycle, only when a setting it is built from changed.
   */
  update(settings: Settings): void {
    if (WG_SETTINGS.some((key) => settings[key] !== this.#settings[key])) this.#wg = null;
    this.#settings = settings;
  }

  /**
   * Checks that a cycle with `settings` could write its status and metrics
   * files (see checkOutputs), without running one: for the daemon at start,
   * where a bad path ends it with exit 2, and for reloaded settings, which a
   * bad path makes it refuse (it keeps the settings it had).
   *
   * @throws {UnsafePathError} naming the setting and the path (exit code 2)
   */
  async check(settings: Settings = this.#settings): Promise<void> {
    await checkOutputs(settings, new DirChecks(labelOf));
  }

  /**
   * Runs one cycle and records it (see runRecordedCycle): a stop request
   * lets the running `wg` call finish, then what was done is verified.
   *
   * @param quiet a daemon's cycle at a peer's deadline: when uneventful, it
   *   leaves no log line and no record (see CycleOptions.quiet)
   * @throws what runRecordedCycle throws: a status or metrics file that could not be written
   *   (before any change), a failed cycle, a failed write
   */
  cycle(quiet = false): Promise<CycleReport> {
    const settings = this.#settings;
    const { now } = this.#options;
    const log = logger("purge");
    const options = {
      ...cycleOptions(settings, now, this.#observe),
      stop: this.signals.stop,
      forgetFlows: this.#options.flows?.forget,
      quiet,
    };
    this.#dirs = new DirChecks(labelOf);
    return runRecordedCycle(
      settings,
      (dirs) => runCycle(this.#wgFor(settings), { ...options, dirs }, log),
      now,
      log,
      this.#dirs,
      // A `run`'s schedule is cron's, which the settings do not know.
      this.#options.daemon ? settings.interval : null,
      quiet,
    );
  }

  /** The `wg` runner, built once for `settings`. */
  #wgFor(settings: Settings): Wg {
    return this.#wg ??= this.#options.wgFor(settings, this.signals.stop);
  }

  /** Removes the signal handlers. */
  dispose(): void {
    this.signals.dispose();
  }
}
