/**
 * After every other tier has run: the host's own state is as it was before.
 * scripts/dev.sh test records it (tests/support/host_state.ts) and runs this
 * last, with WG_REINSTATE_HOST_STATE naming the record.
 */
import assert from "node:assert/strict";
import {
  changedSince,
  HOST_RUN_DIR,
  HOST_TREES,
  type HostState,
  listTree,
} from "../support/host_state.ts";

function recorded(): HostState {
  const file = Deno.env.get("WG_REINSTATE_HOST_STATE");
  assert.ok(file, "WG_REINSTATE_HOST_STATE is not set: run through scripts/dev.sh test");
  return JSON.parse(Deno.readTextFileSync(file));
}

Deno.test("the tiers leave the host's /var/run/wg-reinstate as it was", () => {
  assert.deepStrictEqual(listTree(HOST_RUN_DIR), recorded().runDir, HOST_RUN_DIR);
});

Deno.test("the tiers write nothing to the host's /etc or /var/lib", () => {
  assert.deepStrictEqual(changedSince(HOST_TREES, recorded().takenMs), []);
});
