/**
 * The integration tests that run on both implementations, here on
 * wireguard-go (tests/kernel/both_impl_test.ts runs them on the kernel module).
 */
import { testOnImplementation } from "../support/scenarios.ts";

testOnImplementation("go");
