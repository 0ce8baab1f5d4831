/**
 * What a cycle did, as a report for `--json` and the exit code, and as the
 * log lines that say it. A report names peers by public key (for `--json`);
 * log lines name them by {@link shortKey} only, and never an endpoint.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { shortKey } from "../wg/constants.ts";
import { countKeptByReason, type KeepReason, type PeerPlan } from "./plan.ts";
import type { PurgeProblem } from "./verify.ts";

/** A peer that was (or, in a dry run, would be) purged. */
export interface PurgedPeer {
  publicKey: string;
  /** `stale`, or `unconfirmed` for an endpoint without a completed handshake. */
  reason: string;
  /** Seconds since the handshake; for `unconfirmed`, seconds the daemon watched it. */
  idleSeconds: number;
}

/** A purged peer that had to be repaired, and whether the repair held. */
export interface RepairedPeer {
  publicKey: string;
  problems: PurgeProblem[];
  restored: boolean;
}

/** What one cycle did to one interface. */
export interface InterfaceReport {
  name: string;
  checked: number;
  purged: PurgedPeer[];
  kept: Record<KeepReason, number>;
  repaired: RepairedPeer[];
  /** The first error on this interface, already redacted; `null` when none. */
  error: string | null;
  /** Stale peers not purged because a stop was requested (0: none). */
  stoppedEarly: number;
}

/** What one cycle did. */
export interface CycleReport {
  dryRun: boolean;
  interfaces: InterfaceReport[];
  /** Interfaces skipped because another wg-reinstate held their lock. */
  busy: string[];
  durationMs: number;
  /** False when any `wg` call failed, any peer needed repair, or the purge was refused. */
  ok: boolean;
}

/** A report for an interface before anything was done to it. */
export function emptyReport(name: string, plans: readonly PeerPlan[]): InterfaceReport {
  return {
    name,
    checked: plans.length,
    purged: [],
    kept: countKeptByReason(plans),
    repaired: [],
    error: null,
    stoppedEarly: 0,
  };
}

/** Logs a peer as purged (or, dry, as one that would be) and adds it to the report. */
export function recordPurged(
  log: Logger,
  report: InterfaceReport,
  peer: PurgedPeer,
  dryRun: boolean,
): void {
  const why = peer.reason === "unconfirmed"
    ? "endpoint from an unconfirmed initiation, seen {idleSeconds} s"
    : "idle {idleSeconds} s";
  log.info(`${dryRun ? "would purge" : "purged"} peer {peer} on {interface}, ${why}`, {
    interface: report.name,
    peer: shortKey(peer.publicKey),
    idleSeconds: peer.idleSeconds,
  });
  report.purged.push(peer);
}

/** Logs an interface's error and keeps the first one in the report. */
export function recordError(log: Logger, report: InterfaceReport, error: string): void {
  report.error ??= error;
  log.error("{interface}: {error}", { interface: report.name, error });
}

/** Logs the one-line summary of an interface. */
export function logInterface(log: Logger, report: InterfaceReport, dryRun: boolean): void {
  log.info("{interface}: {checked} peers checked, {purged} {verb}, kept {kept}", {
    interface: report.name,
    checked: report.checked,
    purged: report.purged.length,
    verb: dryRun ? "would be purged" : "purged",
    kept: formatCounts(report.kept),
  });
}

/** Logs the one-line summary of a cycle. */
export function logCycle(log: Logger, report: CycleReport): void {
  log.info("cycle {result} in {durationMs} ms: {checked} peers checked, {purged} {verb}", {
    result: report.ok ? "done" : "FAILED",
    durationMs: report.durationMs,
    checked: report.interfaces.reduce((n, r) => n + r.checked, 0),
    purged: report.interfaces.reduce((n, r) => n + r.purged.length, 0),
    verb: report.dryRun ? "would be purged" : "purged",
  });
}

/** Counts by name for people: `active=2 excluded=1`, zeros left out; `none` when all are 0. */
export function formatCounts(counts: Readonly<Record<string, number>>): string {
  const parts = Object.entries(counts).filter(([, n]) => n > 0).map(([r, n]) => `${r}=${n}`);
  return parts.length > 0 ? parts.join(" ") : "none";
}
