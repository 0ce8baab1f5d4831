/**
 * The metrics file: the status file's counters and last cycle in
 * Prometheus' text exposition format, for node_exporter's textfile collector
 * (servers) or OpenWrt's prometheus-node-exporter-lua-textfile. Labels hold
 * interface names, decisions and reasons only: never a key or an address.
 *
 * @module
 */
import { KEEP_REASONS, PURGE_REASONS } from "../purge/mod.ts";
import type { Status } from "./status_file.ts";

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

/** The last cycle's peers by interface, decision and reason, every reason present. */
function peerSamples(last: Status["lastCycle"]): Family["samples"] {
  const samples: Family["samples"] = [];
  for (const i of last.interfaces) {
    const [purgedBy, keptBy] = [new Map(Object.entries(i.purged)), new Map(Object.entries(i.kept))];
    for (const reason of PURGE_REASONS) {
      samples.push([{ interface: i.name, decision: "purge", reason }, purgedBy.get(reason) ?? 0]);
    }
    for (const reason of KEEP_REASONS) {
      samples.push([{ interface: i.name, decision: "keep", reason }, keptBy.get(reason) ?? 0]);
    }
  }
  return samples;
}

/** The counters since boot. */
function totalsFamilies(totals: Status["totals"]): Family[] {
  // Maps, not the objects: an interface may be named `constructor`.
  const purged = new Map(Object.entries(totals.purged));
  const repaired = new Map(Object.entries(totals.repaired));
  const names = [...new Set([...purged.keys(), ...repaired.keys()])].sort();
  return [
    {
      name: "wg_reinstate_purged_peers_total",
      type: "counter",
      help: "Peers purged (removed and re-added to forget their endpoint) since boot.",
      samples: names.map((n) => [{ interface: n }, purged.get(n) ?? 0]),
    },
    {
      name: "wg_reinstate_repaired_peers_total",
      type: "counter",
      help: "Purged peers that had to be repaired since boot.",
      samples: names.map((n) => [{ interface: n }, repaired.get(n) ?? 0]),
    },
    {
      name: "wg_reinstate_cycles_total",
      type: "counter",
      help: "Purge cycles since boot, by result.",
      samples: [[{ result: "ok" }, totals.cycles.ok], [{ result: "failed" }, totals.cycles.failed]],
    },
  ];
}

/** The last cycle's gauges. */
function lastCycleFamilies(last: Status["lastCycle"]): Family[] {
  return [
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
      samples: peerSamples(last),
    },
  ];
}

/** The metrics of a status, in the text exposition format. Pure. */
export function renderMetrics(status: Status): string {
  return render([...totalsFamilies(status.totals), ...lastCycleFamilies(status.lastCycle)]);
}
