/**
 * The default wg-quick path is optional. This reads /etc/wireguard, which
 * only root may read (wireguard-tools makes it 0700), so it is not a unit test.
 */
import assert from "node:assert/strict";
import { DEFAULT_WG_QUICK_CONFIG, loadProtection } from "../../src/config/protection.ts";
import { resolveSettings } from "../../src/config/schema.ts";

Deno.test("loadProtection treats a missing file at the default wg-quick path as none", async () => {
  const iface = `wr-none-${crypto.randomUUID().slice(0, 6)}`;
  const path = DEFAULT_WG_QUICK_CONFIG.replace("%i", iface);
  await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  const { policy } = await loadProtection(resolveSettings([]), iface);
  assert.strictEqual(policy.configuredEndpoints.size, 0);
  assert.strictEqual(policy.configuredWithoutEndpoint.size, 0);
});
