/**
 * What a cycle did, in three forms made here and nowhere else: the outcome
 * values the core returns ({@link CycleOutcome}), the report built from
 * them for `--json`, the status file and the exit code ({@link cycleReport}),
 * and the log lines that say it ({@link cycleLines}), which
 * {@link writeLog} writes. A report names peers
 * by public key (for `--json`); log lines name them by {@link shortKey}
 * only, and never an endpoint. No log line carries a peer's time: the log's
 * own time stamp minus an idle time would be the moment that user was last
 * active, the very record this tool erases. At info level a cycle logs
 * counts; the purged peers are named at debug level only.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { type FlowOutcome, portsText } from "../wg/conntrack.ts";
import { shortKey } from "../wg/constants.ts";
import { type KeepReason, noneKept, type PeerCounts, type PurgeReason } from "./plan.ts";
import type { RecoveryOutcome } from "./recover.ts";
import type { RepairedPeer, RepairOutcome } from "./repair.ts";
import { intact, type LeftAlone } from "./verify.ts";

export type { RepairedPeer } from "./repair.ts";

/** A peer that was (or, in a dry run, would be) purged. */
export interface PurgedPeer {
  publicKey: string;
  reason: PurgeReason;
  /**
   * Seconds since the handshake; for `unconfirmed`, seconds the daemon
   * watched it. Printed only on request (see {@link printedReport}).
   */
  idleSeconds: number;
  /**
   * Seconds past its deadline (the moment it could first have been purged)
   * at which it was purged: for the linger histogram, which aggregates it.
   * Printed only on request, like {@link idleSeconds}.
   */
  lingerSeconds: number;
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
  /** Its wg-quick file has `SaveConfig = true` (see the warning in the log). */
  saveConfig: boolean;
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
  /**
   * Daemon only: when its next read is due, unix seconds; else `null`. It
   * follows from one peer's handshake time, so it is printed only on
   * request, and never logged or written to a file.
   */
  nextDeadline: number | null;
  /**
   * Nothing purged, repaired, put back, skipped, missing or failed: a
   * daemon's cycle at a peer's deadline that is uneventful leaves no trace
   * (see CycleOptions.quiet).
   */
  uneventful: boolean;
}

/** What purging one interface did: the values its report and its log lines are made from. */
export interface InterfaceOutcome extends PeerCounts {
  name: string;
  /** The peers purged (in a dry run, to be), in the order they were. */
  purged: PurgedPeer[];
  /** Stale peers left alone because a stop was requested. */
  notAttempted: number;
  /** Why the purge stopped early; `unchanged`: before `wg` changed anything. `null`: it did not. */
  failure: { message: string; unchanged: boolean } | null;
  /** The verification and repairs of the peers handed to `wg`; `null` when there were none. */
  repair: RepairOutcome | null;
  /** Stale peers no argv can hold (public keys): left as they are. */
  tooLarge: string[];
  /** Peers the re-read before their call found changed by someone else: left out of it. */
  leftAlone: LeftAlone[];
  /** Why the key directory could not be removed, or `null`. */
  cleanupError: string | null;
  /** What deleting the purged clients' connection-tracking flows came to; `null`: not tried. */
  flows: FlowOutcome | null;
  /** The interface's wg-quick file with `SaveConfig = true`, or `null`. */
  saveConfig: string | null;
  /** What its config files hold that may protect a peer but could not be read. */
  warnings: readonly string[];
}

/** What a cycle did, as far as it got. */
export interface CycleOutcome {
  dryRun: boolean;
  /** The purges killed before this cycle, put right at its start (recover.ts). */
  recovered: RecoveryOutcome[];
  /** Interfaces another wg-reinstate held, skipped. */
  busy: string[];
  /** Why nothing at all was purged in this cycle, or `null` (see plan.ts). */
  refusal: string | null;
  /** Interfaces asked for by name that `wg` does not have. */
  missing: string[];
  /** The interfaces read, in order. */
  interfaces: InterfaceOutcome[];
  durationMs: number;
  /** Daemon only: when the next read is due (schedule.ts), unix seconds; else `null`. */
  nextDeadline: number | null;
}

/** An interface's outcome before anything was done to it. */
export function emptyOutcome(
  name: string,
  counts: PeerCounts = { checked: 0, kept: noneKept() },
): InterfaceOutcome {
  return {
    name,
    checked: counts.checked,
    kept: { ...counts.kept },
    purged: [],
    notAttempted: 0,
    failure: null,
    repair: null,
    tooLarge: [],
    leftAlone: [],
    cleanupError: null,
    flows: null,
    saveConfig: null,
    warnings: [],
  };
}

/** The report of a cycle, built from its outcome. Pure. */
export function cycleReport(cycle: CycleOutcome): CycleReport {
  const interfaces = [
    ...cycle.missing.map((name) => ({
      ...interfaceReport(emptyOutcome(name), null),
      error: missingError(name),
    })),
    ...cycle.interfaces.map((o) => interfaceReport(o, cycle.refusal)),
  ];
  return {
    dryRun: cycle.dryRun,
    interfaces,
    busy: [...cycle.busy],
    durationMs: cycle.durationMs,
    nextDeadline: cycle.nextDeadline,
    uneventful: cycle.recovered.length === 0 && cycle.busy.length === 0 &&
      interfaces.every((r) =>
        r.error === null && r.purged.length === 0 && r.repaired.length === 0 &&
        r.stoppedEarly === 0
      ),
    // A killed purge put right is a success; one that could not be is not.
    ok: interfaces.every((r) => r.error === null && r.repaired.length === 0) &&
      cycle.recovered.every((r) => r.failure === null && unrestored(r.repair) === 0),
  };
}

/**
 * The report as `--json` prints it: each purged peer's idle time only when
 * `peerTimes` asks for it (`--peer-times`). It never goes to a file. Pure.
 */
export function printedReport(report: CycleReport, peerTimes: boolean): unknown {
  // `uneventful` is the daemon's business.
  const { uneventful: _, ...timed } = report;
  if (peerTimes) return timed;
  const { nextDeadline: __, ...rest } = timed;
  return {
    ...rest,
    interfaces: report.interfaces.map((r) => ({
      ...r,
      purged: r.purged.map(({ publicKey, reason }) => ({ publicKey, reason })),
    })),
  };
}

function interfaceReport(o: InterfaceOutcome, refusal: string | null): InterfaceReport {
  return {
    name: o.name,
    checked: o.checked,
    purged: o.purged,
    kept: o.kept,
    repaired: o.repair?.repaired ?? [],
    error: refusal !== null ? `refused: ${refusal}` : interfaceErrors(o)[0] ?? null,
    stoppedEarly: o.notAttempted,
    saveConfig: o.saveConfig !== null,
  };
}

function unrestored(repair: RepairOutcome | null): number {
  return repair?.repaired.filter((p) => !p.restored).length ?? 0;
}

function missingError(name: string): string {
  return `WireGuard interface ${name} does not exist (see: wg show interfaces)`;
}

/** Every error on an interface, in the order they happened. */
function interfaceErrors(o: InterfaceOutcome): string[] {
  const errors = [failureText(o.failure), o.repair?.readError ?? null];
  if (o.tooLarge.length > 0) {
    // Every cycle meets them again: the operator must act (fewer allowed IPs).
    errors.push(`${o.tooLarge.length} stale peers do not fit in one wg set command line; kept`);
  }
  for (const a of o.repair?.attempts ?? []) errors.push(a.failure, a.readError);
  errors.push(o.cleanupError);
  return errors.filter((e) => e !== null);
}

function failureText(failure: InterfaceOutcome["failure"]): string | null {
  if (failure === null) return null;
  return failure.unchanged ? `${failure.message}; nothing was changed` : failure.message;
}

/** One log line: a LogTape message template and the properties that fill it. */
export interface LogLine {
  level: "debug" | "info" | "warning" | "error";
  /** `{name}` placeholders are filled from {@link properties}. */
  message: string;
  properties: Record<string, unknown>;
}

function line(level: LogLine["level"]) {
  return (message: string, properties: Record<string, unknown>): LogLine => ({
    level,
    message,
    properties,
  });
}
const debug = line("debug");
const info = line("info");
const warning = line("warning");
const error = line("error");

/**
 * The log lines that say what a cycle did, in the order it did it. Pure.
 *
 * @param report the cycle's report; `null` when the cycle stopped on an
 *   error, which then has no summary line (the caller reports the error)
 */
export function cycleLines(cycle: CycleOutcome, report: CycleReport | null): LogLine[] {
  const lines = cycle.recovered.flatMap(recoveryLines);
  lines.push(
    ...cycle.busy.map((name) =>
      warning("{interface}: another wg-reinstate is purging it; skipped", { interface: name })
    ),
  );
  if (cycle.refusal !== null) {
    lines.push(error(
      "{refusal}: the clock is behind, so no age can be trusted; purging nothing",
      { refusal: cycle.refusal },
    ));
  }
  for (const name of cycle.missing) {
    lines.push(error("{interface}: {error}", { interface: name, error: missingError(name) }));
  }
  for (const o of cycle.interfaces) {
    lines.push(...interfaceLines(o, interfaceReport(o, cycle.refusal), cycle.dryRun));
  }
  if (report !== null) lines.push(summaryLine(report));
  return lines;
}

function interfaceLines(o: InterfaceOutcome, report: InterfaceReport, dryRun: boolean): LogLine[] {
  const name = o.name;
  const lines: LogLine[] = [];
  if (o.saveConfig !== null) lines.push(saveConfigLine(name, o.saveConfig));
  for (const text of o.warnings) {
    lines.push(warning("{interface}: {warning}", { interface: name, warning: text }));
  }
  if (o.notAttempted > 0) {
    lines.push(warning(
      "{interface}: stopping on request; {left} stale peers left for the next cycle",
      { interface: name, left: o.notAttempted },
    ));
  }
  if (o.failure !== null) {
    lines.push(
      o.failure.unchanged
        ? error("{interface}: {error}", { interface: name, error: failureText(o.failure) })
        : error("{interface}: {error}; verifying every peer it touched", {
          interface: name,
          error: o.failure.message,
        }),
    );
  }
  for (const key of o.tooLarge) {
    lines.push(error(
      "peer {peer} on {interface} is left as it is: its wg set arguments do not fit in one " +
        "command line (E2BIG; one argument may hold at most 128 KiB)",
      { interface: name, peer: shortKey(key) },
    ));
  }
  lines.push(...o.leftAlone.map((l) => leftAloneLine(name, l)));
  if (o.repair !== null) lines.push(...repairLines(name, o.repair));
  for (const peer of o.purged) lines.push(purgedLine(name, peer, dryRun));
  if (o.flows !== null) lines.push(...flowLines(name, o.flows));
  if (o.cleanupError !== null) {
    lines.push(error("{interface}: {error}", { interface: name, error: o.cleanupError }));
  }
  const byReason: Record<string, number> = {};
  for (const p of report.purged) byReason[p.reason] = (byReason[p.reason] ?? 0) + 1;
  const reasons = report.purged.length > 0 ? " ({reasons})" : "";
  lines.push(info(
    `{interface}: {checked} peers checked, {purged} {verb}${reasons}, kept {kept}`,
    {
      interface: name,
      checked: report.checked,
      purged: report.purged.length,
      verb: dryRun ? "would be purged" : "purged",
      reasons: formatCounts(byReason),
      kept: formatCounts(report.kept),
    },
  ));
  return lines;
}

function repairLines(iface: string, repair: RepairOutcome): LogLine[] {
  const fields = (publicKey: string, problems: readonly string[]) => ({
    interface: iface,
    peer: shortKey(publicKey),
    problems: problems.join(", "),
  });
  const lines: LogLine[] = [];
  if (repair.readError !== null) {
    lines.push(error("{interface}: {error}", { interface: iface, error: repair.readError }));
  }
  for (const { expected, problems } of repair.findings) {
    // A wg set that failed before changing anything leaves the peer as it
    // was, endpoint and all: nothing to restore, only a purge to do again.
    lines.push(
      intact(problems)
        ? warning(
          "peer {peer} on {interface} was not purged (it keeps its endpoint); again",
          fields(expected.publicKey, problems),
        )
        : error(
          "peer {peer} on {interface} did not come back as it was ({problems}); re-adding it",
          fields(expected.publicKey, problems),
        ),
    );
  }
  for (const { readError } of repair.attempts) {
    if (readError !== null) {
      lines.push(error("{interface}: {error}", { interface: iface, error: readError }));
    }
  }
  lines.push(...repair.leftAlone.map((l) => leftAloneLine(iface, l)));
  const left = new Set(repair.leftAlone.map((l) => l.publicKey));
  for (const p of repair.repaired) {
    if (!left.has(p.publicKey)) lines.push(repairedLine(fields(p.publicKey, p.problems), p));
  }
  return lines;
}

const LEFT_ALONE: Record<LeftAlone["change"], string> = {
  removed: "was removed by someone else during the purge; left removed",
  changed: "was changed by someone else during the purge; left as they made it",
  active: "handshook again before its call; kept",
};

function leftAloneLine(iface: string, left: LeftAlone): LogLine {
  return info(`peer {peer} on {interface} ${LEFT_ALONE[left.change]}`, {
    interface: iface,
    peer: shortKey(left.publicKey),
  });
}

function recoveryLines(r: RecoveryOutcome): LogLine[] {
  const name = r.iface;
  if (r.dropped !== null) {
    return [info("{interface}: the journal of a killed purge was set aside: {why}", {
      interface: name,
      why: r.dropped,
    })];
  }
  const lines: LogLine[] = [];
  if (r.replayed > 0) {
    lines.push(warning(
      "{interface}: a purge was killed part-way; putting back the {count} peers it may have " +
        "changed",
      { interface: name, count: r.replayed },
    ));
  }
  lines.push(...r.leftAlone.map((l) => leftAloneLine(name, l)));
  if (r.repair !== null) lines.push(...repairLines(name, r.repair));
  if (r.failure !== null) {
    lines.push(error("{interface}: could not put back a killed purge: {error}", {
      interface: name,
      error: r.failure,
    }));
  } else if (r.replayed > 0) {
    const restored = r.replayed - unrestored(r.repair);
    lines.push(warning("{interface}: {restored} of {count} peers of the killed purge put back", {
      interface: name,
      restored,
      count: r.replayed,
    }));
  }
  return lines;
}

function repairedLine(fields: Record<string, unknown>, peer: RepairedPeer): LogLine {
  if (peer.restored) return warning("peer {peer} on {interface} restored", fields);
  if (peer.intact) {
    return warning(
      "peer {peer} on {interface} is as it was, endpoint included: wg set failed before " +
        "changing it; the next cycle purges it",
      fields,
    );
  }
  return error("peer {peer} on {interface} could NOT be restored ({problems})", fields);
}

function purgedLine(iface: string, peer: PurgedPeer, dryRun: boolean): LogLine {
  const why = peer.reason === "unconfirmed" ? "endpoint from an unconfirmed initiation" : "stale";
  return debug(`${dryRun ? "would purge" : "purged"} peer {peer} on {interface}: ${why}`, {
    interface: iface,
    peer: shortKey(peer.publicKey),
  });
}

/**
 * The log lines that say what deleting the connection-tracking flows
 * (wg/conntrack.ts) did after a purge of
 * `iface`, for the one place a cycle logs: a count at info level, a missing
 * `conntrack` at debug (most hosts have none; `status` says it), a failure
 * as a warning (the purge itself succeeded: the flows expire on their own).
 * Pure.
 */
export function flowLines(iface: string, outcome: FlowOutcome): LogLine[] {
  if (outcome.ports.length === 0) return [];
  const properties = { interface: iface, ports: portsText(outcome.ports) };
  switch (outcome.result) {
    case "done":
      return [{
        level: outcome.deleted > 0 ? "info" : "debug",
        message: "{interface}: connection-tracking flows of {ports} deleted: {deleted}",
        properties: { ...properties, deleted: outcome.deleted },
      }];
    case "missing":
      return [{
        level: "debug",
        message: "{interface}: conntrack is not installed: the connection-tracking flows of " +
          "{ports} stay until they expire",
        properties,
      }];
    case "failed":
      return [{
        level: "warning",
        message: "{interface}: could not delete the connection-tracking flows of {ports} " +
          "({deleted} deleted): {error}; the rest expire on their own",
        properties: { ...properties, deleted: outcome.deleted, error: outcome.error },
      }];
  }
}

/**
 * What a wg-quick file with `SaveConfig = true` means, in words: said by
 * every cycle's log, `status` and `config`.
 */
export function saveConfigText(file: string): string {
  return `${file} has SaveConfig = true: wg-quick writes every peer's endpoint into it at ` +
    "each down and shutdown, on disk, so its Endpoint lines protect no peer; set SaveConfig = " +
    "false and remove the saved Endpoint lines (--exclude a peer this side dials)";
}

function saveConfigLine(iface: string, file: string): LogLine {
  return warning("{interface}: {warning}", { interface: iface, warning: saveConfigText(file) });
}

function summaryLine(report: CycleReport): LogLine {
  return info("cycle {result} in {durationMs} ms: {checked} peers checked, {purged} {verb}", {
    result: report.ok ? "done" : "FAILED",
    durationMs: report.durationMs,
    checked: report.interfaces.reduce((n, r) => n + r.checked, 0),
    purged: report.interfaces.reduce((n, r) => n + r.purged.length, 0),
    verb: report.dryRun ? "would be purged" : "purged",
  });
}

/** Writes log lines to `log`: the one place a cycle's lines are logged (see runCycle). */
export function writeLog(log: Logger, lines: readonly LogLine[]): void {
  for (const { level, message, properties } of lines) log[level](message, properties);
}

/** Counts by name for people: `active=2 excluded=1`, zeros left out; `none` when all are 0. */
export function formatCounts(counts: Readonly<Record<string, number>>): string {
  const parts = Object.entries(counts).filter(([, n]) => n > 0).map(([r, n]) => `${r}=${n}`);
  return parts.length > 0 ? parts.join(" ") : "none";
}
