/**
 * Runs wg/conntrack.ts once and prints its outcome as JSON: for the lab,
 * which runs it inside a server namespace (`ip netns exec`), whose table
 * is its own, and for the unit test of a run under narrow permissions.
 *
 * `deno run … flows_main.ts forget|count PORT[,PORT…] [PROGRAM…]`
 *
 * @module
 */
import { countFlows, forgetFlows } from "../../src/wg/conntrack.ts";

const [op, ports, ...programs] = Deno.args;
if ((op !== "forget" && op !== "count") || ports === undefined) {
  throw new TypeError("usage: flows_main.ts forget|count PORT[,PORT…] [PROGRAM…]");
}
const options = programs.length > 0 ? { programs } : {};
const portList = ports.split(",").map(Number);
const outcome = op === "forget"
  ? await forgetFlows(portList, options)
  : await countFlows(portList, options);
console.log(JSON.stringify(outcome));
