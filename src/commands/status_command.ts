/**
 * `wg-reinstate status`: the last cycle and the totals since boot from the
 * status file, then every peer with its interface, short key, endpoint
 * family and decision (its handshake age with `--peer-times`), and how many
 * flows the host's connection-tracking table holds on the interfaces' ports
 * (wg/conntrack.ts). It never shows an endpoint address, and changes nothing.
 *
 * @module
 */
import { ExitCode } from "../common/errors.ts";
import { flagOf, SETTINGS } from "../config/settings_registry.ts";
import { cycleOptions } from "../config/cycle_options.ts";
import { loadNetwork } from "../config/configurators.ts";
import type { WireguardNetwork } from "../config/uci_network.ts";
import { type PlannedInterface, readAndPlan, saveConfigText } from "../purge/mod.ts";
import { flowStatusLine } from "../wg/conntrack.ts";
import { shortKey } from "../wg/constants.ts";
import { type EndpointFamily, endpointFamily } from "../wg/redact.ts";
import type { Subcommand } from "../cli/subcommand.ts";
import { SETTINGS_OPTIONS, WG_OPTIONS } from "../cli/options.ts";
import { readStatus, type Status, sum } from "../record/status_file.ts";

/** The `status` subcommand. */
export const statusCommand: Subcommand = {
  summary: "show every peer and what a cycle would do",
  description: `Shows the last cycle and the totals since boot from ${
    flagOf("statusFile")
  }, then lists
every peer: interface, short key, endpoint family (never the address), and
what a cycle would decide, with the reason; its handshake age only with
--peer-times; and the connection-tracking flows of the interfaces' ports.
It changes nothing. --json prints it all as {statusFile, status, warnings,
peers, connectionTracking}.`,
  // It plans as a cycle would but writes nothing: no key, lock or metrics file.
  options: [...SETTINGS_OPTIONS, ...WG_OPTIONS, SETTINGS.statusFile.flag, "json", "peer-times"],
  purges: false,
  async run({ settings, json, peerTimes, wgFor, flows: table, now, print }) {
    const planned = await readAndPlan(wgFor(settings), cycleOptions(settings, now), true);
    const rows = statusRows(planned, descriptionsOf(await loadNetwork(settings)), peerTimes);
    const flows = await table?.count(planned.map((p) => p.iface.listenPort)) ?? null;
    // The status file is a report, not an input to any change: a bad one is
    // shown as such, and the peers are still listed.
    let last: Status | null | string;
    try {
      last = await readStatus(settings.statusFile);
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    const warnings = planned.flatMap(({ iface, saveConfig, warnings }) =>
      [...(saveConfig === null ? [] : [saveConfigText(saveConfig)]), ...warnings]
        .map((w) => `${iface.name}: ${w}`)
    );
    if (json) {
      const status = typeof last === "string" ? { error: last } : last;
      const document = {
        statusFile: settings.statusFile,
        status,
        warnings,
        peers: rows,
        connectionTracking: flows,
      };
      print(JSON.stringify(document, null, 2) + "\n");
    } else {
      const header = formatLastCycle(last, settings.statusFile, now()) +
        (flows === null ? "" : flowStatusLine(flows)) +
        warnings.map((w) => `Warning: ${w}\n`).join("");
      print(header + "\n" + formatStatusTable(rows));
    }
    return ExitCode.ok;
  },
};

/** A unix time for people, in UTC: `2026-11-29 06:50:12 UTC`. */
function formatTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/**
 * The reasons of the status file in words, as `status` and the LuCI page
 * (openwrt/luci-app-wg-reinstate) say them; a log line keeps `reason=n`.
 */
export const REASON_WORDS: Readonly<Record<string, string>> = {
  stale: "stale",
  unconfirmed: "unconfirmed",
  active: "active",
  "no-endpoint": "without endpoint",
  "never-handshaked": "never connected",
  excluded: "excluded",
  "configured-endpoint": "with a configured endpoint",
  "handshake-in-future": "with a handshake in the future",
  observing: "still being watched",
};

/** `n` and the noun, singular for 1: `1 cycle`, `2 cycles`. */
function counted(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

const WORDS = new Map(Object.entries(REASON_WORDS));

/** Counts by reason, in words: `3 stale, 1 excluded`, or `none`. */
export function byReason(counts: Readonly<Record<string, number>>): string {
  const parts = Object.entries(counts).filter(([, n]) => n > 0)
    .map(([reason, n]) => `${n} ${WORDS.get(reason) ?? reason.replaceAll("-", " ")}`);
  return parts.length > 0 ? parts.join(", ") : "none";
}

/** Peers by interface: `3 peers purged on wg0, 1 peer purged on wg1`, or `no peer purged`. */
function byInterface(counts: Readonly<Record<string, number>>, done: string): string {
  const parts = Object.entries(counts).filter(([, n]) => n > 0)
    .map(([name, n]) => `${counted(n, "peer", "peers")} ${done} on ${name}`);
  return parts.length > 0 ? parts.join(", ") : `no peer ${done}`;
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
    const purged = sum(i.purged);
    lines.push(
      `  ${i.name}: ${i.checked} checked, ${purged} purged` +
        (purged > 0 ? ` (${byReason(i.purged)})` : "") +
        `; kept ${byReason(i.kept)}; ${i.repaired} repaired` +
        (i.notRestored > 0 ? `, ${i.notRestored} NOT restored` : "") +
        (i.stoppedEarly > 0 ? `, ${i.stoppedEarly} left by a stop` : "") +
        (i.error === null ? "" : `; error: ${i.error}`),
    );
  }
  for (const name of c.busy) lines.push(`  ${name}: skipped, another wg-reinstate held it`);
  const t = last.totals;
  const cycles = counted(t.cycles.ok + t.cycles.failed, "cycle", "cycles") +
    (t.cycles.failed > 0 ? `, ${t.cycles.failed} failed` : "");
  lines.push(
    `Since ${formatTime(t.since)}: ${cycles}; ${byInterface(t.purged, "purged")}; ` +
      byInterface(t.repaired, "repaired"),
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
  /** Unix seconds; 0 = never. Only with `--peer-times`. */
  latestHandshake?: number;
  /**
   * Seconds since the latest handshake; null when never; negative when in
   * the future. Only with `--peer-times`.
   */
  handshakeAgeSeconds?: number | null;
  decision: "purge" | "keep";
  reason: string;
  /** The peer's description from the network config, or null. */
  description: string | null;
}

/** Descriptions by interface, then public key. */
export type Descriptions = ReadonlyMap<string, ReadonlyMap<string, string>>;

/** Flattens planned interfaces into status rows; with `peerTimes`, with each peer's times. */
export function statusRows(
  planned: readonly PlannedInterface[],
  descriptions: Descriptions = new Map(),
  peerTimes = false,
): StatusRow[] {
  // By key: the kernel moves a re-added peer to the end of its list, and
  // wireguard-go lists peers in no fixed order; a table to compare needs one.
  const byKey = (a: { peer: { publicKey: string } }, b: { peer: { publicKey: string } }) =>
    a.peer.publicKey < b.peer.publicKey ? -1 : a.peer.publicKey > b.peer.publicKey ? 1 : 0;
  return planned.flatMap(({ iface, now, plans }) =>
    [...plans].sort(byKey).map(({ peer, decision }) => ({
      interface: iface.name,
      publicKey: peer.publicKey,
      endpoint: endpointFamily(peer.endpoint),
      ...(peerTimes
        ? {
          latestHandshake: peer.latestHandshake,
          handshakeAgeSeconds: peer.latestHandshake > 0 ? now - peer.latestHandshake : null,
        }
        : {}),
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

/** Renders rows as an aligned text table; a HANDSHAKE column when they hold times. */
export function formatStatusTable(rows: readonly StatusRow[]): string {
  const described = rows.some((r) => r.description !== null);
  const timed = rows.some((r) => r.handshakeAgeSeconds !== undefined);
  const header = [
    ...["INTERFACE", "PEER", "ENDPOINT", ...(timed ? ["HANDSHAKE"] : []), "DECISION", "REASON"],
    ...(described ? ["DESCRIPTION"] : []),
  ];
  const body = rows.map((r) => [
    r.interface,
    shortKey(r.publicKey),
    r.endpoint,
    ...(timed ? [formatAge(r.handshakeAgeSeconds ?? null)] : []),
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
