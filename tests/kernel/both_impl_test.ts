/**
 * The integration tests that run on both implementations, here on the kernel
 * module inside the test VM (scripts/vm/); tests/lab/both_impl_test.ts runs
 * them on wireguard-go.
 */
import { testOnImplementation } from "../support/scenarios.ts";

testOnImplementation("kernel");
