/**
 * Process signals, behind an interface so that tests can deliver them.
 *
 * @module
 */

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
 * An abort signal that fires on SIGTERM or SIGINT while `fn` runs: a stop
 * request that lets the running `wg` call finish (see CycleOptions.stop).
 */
export async function whileStoppable<T>(
  fn: (stop: AbortSignal) => Promise<T>,
  signals: SignalSource = processSignals,
): Promise<T> {
  const controller = new AbortController();
  const onStop = () => controller.abort();
  signals.add("SIGTERM", onStop);
  signals.add("SIGINT", onStop);
  try {
    return await fn(controller.signal);
  } finally {
    signals.remove("SIGTERM", onStop);
    signals.remove("SIGINT", onStop);
  }
}
