/**
 * The purge layer's public entry: what the config and CLI layers use. The
 * modules behind it (apply, repair, verify, pace, lock) are its own.
 *
 * @module
 */
export { type CycleOptions, readAndPlan, runCycle } from "./cycle.ts";
export { PeerObservations } from "./observations.ts";
export {
  type Decision,
  KEEP_REASONS,
  type KeepReason,
  noneKept,
  type PlannedInterface,
  type Policy,
  PURGE_REASONS,
  type PurgeReason,
} from "./plan.ts";
export { printedReport, saveConfigText } from "./report.ts";
export { CycleBudget, sleepSeconds } from "./schedule.ts";
export type { CycleReport, InterfaceReport, PurgedPeer, RepairedPeer } from "./report.ts";
export type { PurgeProblem } from "./verify.ts";
