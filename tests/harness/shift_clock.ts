/**
 * Preload module for CLI tests: `deno run --preload tests/harness/shift_clock.ts`.
 *
 * - WG_REINSTATE_TEST_CLOCK_SHIFT: seconds added to the wall clock
 *   (`Date.now`), so real handshakes look as old as a test needs, or a clock
 *   step forward or back is simulated;
 * - WG_REINSTATE_TEST_MONOTONIC_SPEED: how much faster the monotonic clock
 *   (`performance.now`) runs, so the daemon's observation time passes
 *   without waiting for it.
 *
 * @module
 */
const shiftSeconds = Number(Deno.env.get("WG_REINSTATE_TEST_CLOCK_SHIFT") ?? "0");
const speed = Number(Deno.env.get("WG_REINSTATE_TEST_MONOTONIC_SPEED") ?? "1");
if (!Number.isFinite(shiftSeconds) || !(speed > 0)) {
  throw new Error("WG_REINSTATE_TEST_CLOCK_SHIFT and _MONOTONIC_SPEED must be numbers");
}
const realNow = Date.now;
Date.now = () => realNow() + shiftSeconds * 1000;
const realMonotonic = performance.now.bind(performance);
performance.now = () => realMonotonic() * speed;
