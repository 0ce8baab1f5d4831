/**
 * Adapts the settings to what the purge core asks for: {@link CycleOptions},
 * with each interface's protection loaded from the config files.
 *
 * @module
 */
import type { CycleOptions } from "../purge/mod.ts";
import { type Configured, loadConfigured } from "./configurators.ts";
import { loadProtection } from "./protection.ts";
import type { Settings } from "./schema.ts";

/**
 * Cycle options derived from settings.
 *
 * @param now the wall clock, unix seconds
 * @param observe the daemon's peer memory and monotonic clock; absent for one-shot runs
 */
export function cycleOptions(
  settings: Settings,
  now: () => number,
  observe?: CycleOptions["observe"],
): CycleOptions {
  // The configurators' files are read once per cycle, not once per interface.
  let configured: Promise<Configured> | undefined;
  return {
    interfaces: settings.interfaces,
    dryRun: settings.dryRun,
    wgTimeoutMs: settings.wgTimeout * 1000,
    now,
    policyFor: async (iface) =>
      (await loadProtection(settings, iface, await (configured ??= loadConfigured(settings))))
        .policy,
    keyDir: settings.keyDir,
    lockDir: settings.lockDir,
    observe,
  };
}
