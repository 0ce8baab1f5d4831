/**
 * Process signals, behind an interface so that tests can deliver them, and
 * what a purging command makes of them: the one place SIGTERM, SIGINT and
 * SIGHUP are handled.
 *
 * @module
 */
import { StopRequest } from "../wg/command.ts";

/** Subscribes to process signals. */
export interface SignalSource {
  add(signal: Deno.Signal, handler: () => void): void;
  remove(signal: Deno.Signal, handler: () => void): void;
}

/** The process's own signals. */
export const processSignals: SignalSource = {
  add: (signal, handler) => Deno.addSignalListener(signal, handler),
  remove: (signal, handler) => Deno.removeSignalListener(signal, handler),
};

/**
 * The signals as a purging command sees them: a stop request that lets the
 * running `wg` call finish (see CycleOptions.stop), a reload wanted, and
 * sleeps either cuts short. SIGTERM and SIGINT are a stop request; SIGHUP is
 * a reload for the daemon and a stop request for `run`, whose terminal may
 * hang up (the `wg` calls run in sessions of their own, so no signal meant
 * for the terminal's group reaches one half-way). The stop signal is aborted
 * with a {@link StopRequest} that says when it came. Call {@link dispose}
 * when done.
 */
export class StopSignals {
  /** Whether a SIGHUP came since the last settle. */
  reloadWanted = false;
  readonly #stop = new AbortController();
  #wake: (() => void) | null = null;
  readonly #onStop = () => {
    if (!this.#stop.signal.aborted) this.#stop.abort(new StopRequest(performance.now()));
    this.#wake?.();
  };
  readonly #onReload = () => {
    this.reloadWanted = true;
    this.#wake?.();
  };

  /**
   * @param source where the handlers are installed
   * @param reload whether SIGHUP reloads (the daemon); otherwise it is a
   *   stop request like SIGTERM (`run`), never the default action (exit
   *   in the middle of a purge)
   */
  constructor(private readonly source: SignalSource, private readonly reload: boolean) {
    source.add("SIGTERM", this.#onStop);
    source.add("SIGINT", this.#onStop);
    source.add("SIGHUP", reload ? this.#onReload : this.#onStop);
  }

  /** Fires on SIGTERM or SIGINT, and on SIGHUP without reload; its reason is a {@link StopRequest}. */
  get stop(): AbortSignal {
    return this.#stop.signal;
  }

  /** Waits `ms`, or until the next signal. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => (this.#wake = null));
  }

  /**
   * Waits until `ms` have passed since the last SIGHUP; false when a stop
   * request came instead. Every HUP restarts the settle: OpenWrt sends a
   * pair when both config files change, and netifd's `wg setconf` must
   * finish before the cycle reads.
   */
  async settle(ms: number): Promise<boolean> {
    while (this.reloadWanted && !this.stop.aborted) {
      this.reloadWanted = false;
      await this.sleep(ms);
    }
    return !this.stop.aborted;
  }

  /** Removes the signal handlers. */
  dispose(): void {
    this.source.remove("SIGTERM", this.#onStop);
    this.source.remove("SIGINT", this.#onStop);
    this.source.remove("SIGHUP", this.reload ? this.#onReload : this.#onStop);
  }
}
