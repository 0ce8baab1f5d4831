/**
 * `wg-reinstate status`: the last cycle and the totals since boot from the
 * status file, then every peer with its interface, short key, endpoint
 * family, handshake age and decision. It never shows an endpoint address,
 * and changes nothing.
 *
 * @module
 */
import { ExitCode } from "../common/errors.ts";
import { cycleOptions } from "../config/cycle_options.ts";
import { loadNetwork } from "../config/protection.ts";
import type { WireguardNetwork } from "../config/uci_network.ts";
import { readAndPlan } from "../purge/cycle.ts";
import type { PlannedInterface } from "../purge/plan.ts";
import { formatCounts } from "../purge/report.ts";
import { shortKey } from "../wg/constants.ts";
import { type EndpointFamily, endpointFamily } from "../wg/redact.ts";
import type { Subcommand } from "./command.ts";
import { readStatus, type Status, sum } from "./status_file.ts";

/** The `status` subcommand. */
export const statusCommand: Subcommand = {
  summary: "show every peer and what a cycle would do",
  description: `Shows the last cycle and the totals since boot from --status-file, then lists
every peer: interface, short key, endpoint family (never the address),
handshake age, and what a cycle would decide, with the reason.`,
  options: { json: { type: "boolean" } },
  optionsHelp:
    `      --json                print it as JSON on stdout: {statusFile, status, peers}`,
  async run({ settings, json, wgFor, now, print }) {
    const planned = await readAndPlan(wgFor(settings), cycleOptions(settings, now));
    const rows = statusRows(planned, descriptionsOf(await loadNetwork(settings)));
    // The status file is a report, not an input to any change: a bad one is
    // shown as such, and the peers are still listed.
    let last: Status | null | string;
    try {
      last = await readStatus(settings.statusFile);
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (json) {
      const status = typeof last === "string" ? { error: last } : last;
      print(
        JSON.stringify({ statusFile: settings.statusFile, status, peers: rows }, null, 2) + "\n",
      );
    } else {
      print(formatLastCycle(last, settings.statusFile, now()) + "\n" + formatStatusTable(rows));
    }
    return ExitCode.ok;
  },
};

/** A unix time for people, in UTC: `2026-11-29 06:50:12 UTC`. */
function formatTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/**
 * The status file's last cycle and totals for people; `last` is the parsed
 * file, null when there is none yet, or why it could not be read.
 */
export function formatLastCycle(last: Status | null | string, path: string, now: number): string {
  if (last === null) return `Last cycle: none yet (no status file at ${path})\n`;
  if (typeof last === "string") return `Last cycle: unknown (${last})\n`;
  const c = last.lastCycle;
  const ago = formatAge(Math.max(0, Math.round(now - c.finishedAt)));
  const lines = [
    `Last cycle: ${formatTime(c.finishedAt)} (${ago} ago), ${c.durationSeconds.toFixed(3)} s, ` +
    `${c.result}${c.dryRun ? " (dry run)" : ""}${c.error === null ? "" : `: ${c.error}`}`,
  ];
  for (const i of c.interfaces) {
    lines.push(
      `  ${i.name}: ${i.checked} checked, ${sum(i.purged)} purged (${formatCounts(i.purged)}), ` +
        `kept ${formatCounts(i.kept)}, ${i.repaired} repaired` +
        (i.notRestored > 0 ? `, ${i.notRestored} NOT restored` : "") +
        (i.stoppedEarly > 0 ? `, ${i.stoppedEarly} left by a stop` : "") +
        (i.error === null ? "" : `; error: ${i.error}`),
    );
  }
  for (const name of c.busy) lines.push(`  ${name}: skipped, another wg-reinstate held it`);
  const t = last.totals;
  lines.push(
    `Since ${formatTime(t.since)}: ${t.cycles.ok + t.cycles.failed} cycles ` +
      `(${t.cycles.ok} ok, ${t.cycles.failed} failed); purged ${formatCounts(t.purged)}; ` +
      `repaired ${formatCounts(t.repaired)}`,
  );
  return lines.join("\n") + "\n";
}

function descriptionsOf(network: WireguardNetwork | null): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const peer of network?.peers ?? []) {
    if (peer.description === null) continue;
    if (!out.has(peer.iface)) out.set(peer.iface, new Map());
    out.get(peer.iface)!.set(peer.publicKey, peer.description);
  }
  return out;
}

/** One line of `status`. */
export interface StatusRow {
  interface: string;
  publicKey: string;
  /** The endpoint's address family only. */
  endpoint: EndpointFamily;
  /** Unix seconds; 0 = never. */
  latestHandshake: number;
  /** Seconds since the latest handshake; null when never; negative when in the future. */
  handshakeAgeSeconds: number | null;
  decision: "purge" | "keep";
  reason: string;
  /** The peer's description from the network config, or null. */
  description: string | null;
}

/** Descriptions by interface, then public key. */
export type Descriptions = ReadonlyMap<string, ReadonlyMap<string, string>>;

/** Flattens planned interfaces into status rows. */
export function statusRows(
  planned: readonly PlannedInterface[],
  descriptions: Descriptions = new Map(),
): StatusRow[] {
  return planned.flatMap(({ iface, now, plans }) =>
    plans.map(({ peer, decision }) => ({
      interface: iface.name,
      publicKey: peer.publicKey,
      endpoint: endpointFamily(peer.endpoint),
      latestHandshake: peer.latestHandshake,
      handshakeAgeSeconds: peer.latestHandshake > 0 ? now - peer.latestHandshake : null,
      decision: decision.action,
      reason: decision.reason,
      description: descriptions.get(iface.name)?.get(peer.publicKey) ?? null,
    }))
  );
}

/** A handshake age for people: `never`, `in the future`, `45s`, `3m07s`, `2h05m`, `3d04h`. */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return "never";
  if (seconds < 0) return "in the future";
  const pad = (n: number) => String(n).padStart(2, "0");
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${pad(seconds % 60)}s`;
  if (seconds < 86400) {
    return `${Math.floor(seconds / 3600)}h${pad(Math.floor(seconds / 60) % 60)}m`;
  }
  return `${Math.floor(seconds / 86400)}d${pad(Math.floor(seconds / 3600) % 24)}h`;
}

/** Renders rows as an aligned text table. */
export function formatStatusTable(rows: readonly StatusRow[]): string {
  const described = rows.some((r) => r.description !== null);
  const header = ["INTERFACE", "PEER", "ENDPOINT", "HANDSHAKE", "DECISION", "REASON"];
  if (described) header.push("DESCRIPTION");
  const body = rows.map((r) => [
    r.interface,
    shortKey(r.publicKey),
    r.endpoint,
    formatAge(r.handshakeAgeSeconds),
    r.decision,
    r.reason,
    ...(described ? [r.description ?? ""] : []),
  ]);
  const table = [header, ...body];
  const widths = header.map((_, col) => Math.max(...table.map((row) => row[col].length)));
  const lines = table.map((row) =>
    row.map((cell, col) => cell.padEnd(widths[col])).join("  ").trimEnd()
  );
  if (rows.length === 0) lines.push("(no peers)");
  return lines.join("\n") + "\n";
}
