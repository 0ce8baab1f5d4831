/**
 * The metrics file: the status file's counters and last cycle in
 * Prometheus' text exposition format, for node_exporter's textfile collector
 * (servers) or OpenWrt's prometheus-node-exporter-lua-textfile. Labels hold
 * interface names, decisions and reasons only: never a key or an address.
 *
 * @module
 */
import { KEEP_REASONS } from "../purge/plan.ts";
import type { Status } from "./status_file.ts";

/** Reasons a peer is purged, as plans and reports name them. */
const PURGE_REASONS = ["stale", "unconfirmed"] as const;

interface Family {
  name: string;
  type: "counter" | "gauge";
  help: string;
  samples: [labels: Record<string, string>, value: number][];
}

/** A label value in the exposition format: backslash, quote and newline escaped. */
function labelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function render(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const [labels, value] of f.samples) {
      const parts = Object.entries(labels).map(([k, v]) => `${k}="${labelValue(v)}"`);
      lines.push(`${f.name}${parts.length > 0 ? `{${parts.join(",")}}` : ""} ${value}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** The metrics of a status, in the text exposition format. Pure. */
export function renderMetrics(status: Status): string {
  const last = status.lastCycle;
  const { totals } = status;
  const names = [...new Set([...Object.keys(totals.purged), ...Object.keys(totals.repaired)])]
    .sort();
  const peers: Family["samples"] = [];
  for (const i of last.interfaces) {
    for (const reason of PURGE_REASONS) {
      peers.push([{ interface: i.name, decision: "purge", reason }, i.purged[reason] ?? 0]);
    }
    for (const reason of KEEP_REASONS) {
      peers.push([{ interface: i.name, decision: "keep", reason }, i.kept[reason] ?? 0]);
    }
  }
  return render([
    {
      name: "wg_reinstate_purged_peers_total",
      type: "counter",
      help: "Peers purged (removed and re-added to forget their endpoint) since boot.",
      samples: names.map((n) => [{ interface: n }, totals.purged[n] ?? 0]),
    },
    {
      name: "wg_reinstate_repaired_peers_total",
      type: "counter",
      help: "Purged peers that had to be repaired since boot.",
      samples: names.map((n) => [{ interface: n }, totals.repaired[n] ?? 0]),
    },
    {
      name: "wg_reinstate_cycles_total",
      type: "counter",
      help: "Purge cycles since boot, by result.",
      samples: [[{ result: "ok" }, totals.cycles.ok], [{ result: "failed" }, totals.cycles.failed]],
    },
    {
      name: "wg_reinstate_last_cycle_timestamp_seconds",
      type: "gauge",
      help: "When the last cycle ended, in unix seconds.",
      samples: [[{}, last.finishedAt]],
    },
    {
      name: "wg_reinstate_last_cycle_duration_seconds",
      type: "gauge",
      help: "How long the last cycle took.",
      samples: [[{}, last.durationSeconds]],
    },
    {
      name: "wg_reinstate_last_cycle_success",
      type: "gauge",
      help: "1 when the last cycle succeeded, 0 when it failed.",
      samples: [[{}, last.result === "ok" ? 1 : 0]],
    },
    {
      name: "wg_reinstate_peers",
      type: "gauge",
      help: "Peers in the last cycle, by interface, decision and reason (purge: would be, " +
        "in a dry run).",
      samples: peers,
    },
  ]);
}
