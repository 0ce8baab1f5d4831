/**
 * Preload module for CLI tests: `deno run --preload tests/support/shift_clock.ts`
 * moves the wall clock (`Date.now`) forward by WG_REINSTATE_TEST_CLOCK_SHIFT
 * seconds, so real handshakes look as old as a test needs without waiting.
 * The monotonic clock (`performance.now`) is left alone.
 *
 * @module
 */
const shiftSeconds = Number(Deno.env.get("WG_REINSTATE_TEST_CLOCK_SHIFT") ?? "0");
if (!Number.isFinite(shiftSeconds)) {
  throw new Error("WG_REINSTATE_TEST_CLOCK_SHIFT must be a number");
}
const realNow = Date.now;
Date.now = () => realNow() + shiftSeconds * 1000;
