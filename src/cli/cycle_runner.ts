/**
 * The one runner of purge cycles, for `run` (one cycle) and the daemon (a
 * cycle every interval): it owns the signals, one `wg` runner for the
 * process, the cycle options, and the recording of each cycle (the status
 * file and the metrics). Each directory a cycle writes to is checked once
 * per cycle (common/dir_checks.ts) and checked again just before a write.
 *
 * @module
 */
import { DirChecks } from "../common/dir_checks.ts";
import { cycleOptions } from "../config/cycle_options.ts";
import { labelOf } from "../config/settings_registry.ts";
import type { Settings } from "../config/schema.ts";
import { type CycleOptions, type CycleReport, PeerObservations, runCycle } from "../purge/mod.ts";
import { runRecordedCycle } from "../record/recorded_cycle.ts";
import type { Wg } from "../wg/command.ts";
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
  /**
   * The daemon: keep a memory of peer states across cycles and reloads, and
   * handle SIGHUP. A `run` has neither.
   */
  daemon: boolean;
  /** Where signal handlers are installed; default the process's own signals. */
  signals?: SignalSource;
}

/** Runs recorded purge cycles with the current settings. Call {@link dispose} when done. */
export class CycleRunner {
  /** SIGTERM and SIGINT (a stop request), and for the daemon SIGHUP. */
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
   * cycle, only when a setting it is built from changed: each one listens
   * for the stop request.
   */
  update(settings: Settings): void {
    if (WG_SETTINGS.some((key) => settings[key] !== this.#settings[key])) this.#wg = null;
    this.#settings = settings;
  }

  /**
   * Runs one cycle and records it (see runRecordedCycle): a stop request
   * lets the running `wg` call finish, then what was done is verified.
   *
   * @throws what runRecordedCycle throws: an unsafe directory, a failed cycle, a failed write
   */
  cycle(): Promise<CycleReport> {
    const settings = this.#settings;
    const { now } = this.#options;
    const log = logger("purge");
    const options = { ...cycleOptions(settings, now, this.#observe), stop: this.signals.stop };
    this.#dirs = new DirChecks(labelOf);
    return runRecordedCycle(
      settings,
      (dirs) => runCycle(this.#wgFor(settings), { ...options, dirs }, log),
      now,
      log,
      this.#dirs,
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
