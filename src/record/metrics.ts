/**
 * The metrics file: the status file's counters and last cycle in
 * Prometheus' text exposition format, for node_exporter's textfile collector
 * (servers) or OpenWrt's prometheus-node-exporter-lua-textfile. Labels hold
 * interface names, decisions, reasons and bucket bounds only: never a key or
 * an address. The alerting rules that read it: docs/prometheus/.
 *
 * @module
 */
import { KEEP_REASONS, PURGE_REASONS } from "../purge/mod.ts";
import { emptyLinger, LINGER_BUCKETS, type Status } from "./status_file.ts";

/** One sample: its labels, its value, and for a histogram's series the suffix of its name. */
type Sample = [
  labels: Record<string, string>,
  value: number,
  suffix?: "_bucket" | "_sum" | "_count",
];

interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram";
  help: string;
  samples: Sample[];
}

/** A label value in the exposition format: backslash, quote and newline escaped. */
function labelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function render(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const [labels, value, suffix = ""] of f.samples) {
      const parts = Object.entries(labels).map(([k, v]) => `${k}="${labelValue(v)}"`);
      lines.push(`${f.name}${suffix}${parts.length > 0 ? `{${parts.join(",")}}` : ""} ${value}`);
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

/**
 * The linger histograms by interface: cumulative buckets, their sum and
 * count; zeros for an interface counted before the histograms were (format 1).
 */
function lingerSamples(totals: Status["totals"]): Sample[] {
  const linger = new Map(Object.entries(totals.linger));
  const names = [...new Set([...Object.keys(totals.purged), ...linger.keys()])].sort();
  const samples: Sample[] = [];
  for (const name of names) {
    const { buckets, sumSeconds } = linger.get(name) ?? emptyLinger();
    let below = 0;
    buckets.forEach((n, i) => {
      below += n;
      const le = i < LINGER_BUCKETS.length ? String(LINGER_BUCKETS[i]) : "+Inf";
      samples.push([{ interface: name, le }, below, "_bucket"]);
    });
    samples.push([{ interface: name }, sumSeconds, "_sum"], [{ interface: name }, below, "_count"]);
  }
  return samples;
}

/** The counters since boot. */
function totalsFamilies(totals: Status["totals"]): Family[] {
  // Maps, not the objects: an interface may be named `constructor`.
  const purged = new Map(Object.entries(totals.purged));
  const repaired = new Map(Object.entries(totals.repaired));
  const notRestored = new Map(Object.entries(totals.notRestored));
  const names = [
    ...new Set([purged, repaired, notRestored].flatMap((counts) => [...counts.keys()])),
  ].sort();
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
      name: "wg_reinstate_unrestored_peers_total",
      type: "counter",
      help: "Repaired peers that could not be restored since boot.",
      samples: names.map((n) => [{ interface: n }, notRestored.get(n) ?? 0]),
    },
    {
      name: "wg_reinstate_linger_seconds",
      type: "histogram",
      help: "How long past its deadline each peer was purged (its endpoint forgotten) " +
        "since boot.",
      samples: lingerSamples(totals),
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
    {
      name: "wg_reinstate_save_config",
      type: "gauge",
      help: "1 when the interface's wg-quick file has SaveConfig = true: wg-quick writes " +
        "client endpoints into it on down.",
      samples: last.interfaces.map((i) => [{ interface: i.name }, i.saveConfig ? 1 : 0]),
    },
  ];
}

/** The daemon's longest sleep between two cycles, for the alert on a cycle overdue. */
function maxSleepFamily(seconds: number): Family {
  return {
    name: "wg_reinstate_max_sleep_seconds",
    type: "gauge",
    help: "The longest the daemon sleeps between two cycles (absent for run).",
    samples: [[{}, seconds]],
  };
}

/**
 * The metrics of a status, in the text exposition format. Pure.
 *
 * @param maxSleepSeconds the daemon's longest sleep between two cycles; null
 *   for `run`, whose next cycle is up to cron
 */
export function renderMetrics(status: Status, maxSleepSeconds: number | null = null): string {
  return render([
    ...totalsFamilies(status.totals),
    ...lastCycleFamilies(status.lastCycle),
    ...(maxSleepSeconds === null ? [] : [maxSleepFamily(maxSleepSeconds)]),
  ]);
}
