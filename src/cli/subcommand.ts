/**
 * What every subcommand is given and what it declares, so that `main` can
 * dispatch through one table, as wireguard-tools' `wg.c` does.
 *
 * @module
 */
import type { SettingsSources } from "../config/load.ts";
import { flagOf } from "../config/settings_registry.ts";
import type { Settings } from "../config/schema.ts";
import { type Wg, WgCommand } from "../wg/command.ts";
import type { Flows } from "../wg/conntrack.ts";
import type { CommandSpec } from "./args.ts";

/** One run of a subcommand: its settings and its ways to the outside world. */
export interface Invocation {
  /** The effective settings. */
  settings: Settings;
  /** `--json`: machine-readable output on stdout. */
  json: boolean;
  /**
   * `--peer-times`: per-peer times (idle, latest handshake) in what is
   * printed on stdout. Without it nothing printed holds one; nothing
   * logged or written to a file ever does.
   */
  peerTimes: boolean;
  /** The files the settings came from. */
  sources: SettingsSources;
  /** Loads the settings again from the same sources and flags (the daemon's SIGHUP). */
  reload: () => Promise<Settings>;
  /**
   * The `wg` to use with the given settings; tests pass a fake. `stop` is the
   * stop request that bounds how long its calls may still take.
   */
  wgFor: (settings: Settings, stop?: AbortSignal) => Wg;
  /**
   * The host's connection-tracking table; `null` with a FAKE `wg`, so that
   * tests of one never touch the host's table.
   */
  flows: Flows | null;
  /** The wall clock, unix seconds. */
  now: () => number;
  /** Writes to standard output. */
  print: (text: string) => void;
}

/** A subcommand: its command line, and what it does. Returns the exit code. */
export interface Subcommand extends CommandSpec {
  run(invocation: Invocation): Promise<number>;
}

/** The real `wg`, as the settings name it, with their time limit, argv budget and the stop request. */
export function realWg(settings: Settings, stop?: AbortSignal): Wg {
  return new WgCommand({
    wgPath: settings.wg,
    timeoutMs: settings.wgTimeout * 1000,
    argvBudget: settings.argvBudget,
    timeoutSetting: flagOf("wgTimeout"),
    stop,
  });
}
