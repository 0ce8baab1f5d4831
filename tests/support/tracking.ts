/**
 * Connection tracking in a test's network namespace: a ruleset that makes
 * the kernel track every flow, as a stateful firewall's does.
 *
 * @module
 */
import { sh } from "../harness/sh.ts";

/** A ruleset that makes the namespace track every flow (it matches `ct state`). */
export const TRACKING = `table inet wr_track {
  chain input {
    type filter hook input priority filter; policy accept;
    ct state established,related accept
    udp dport 51820 ct state new accept
  }
}
`;

/** Loads an nftables ruleset in namespace `ns`. */
export async function nft(ns: string, ruleset: string): Promise<void> {
  await sh(["ip", "netns", "exec", ns, "nft", "-f", "-"], { stdin: ruleset });
}
