/**
 * Runs handshakes from inside a client network namespace:
 * `ip netns exec NS deno run -A tests/harness/initiator_main.ts < jobs.json`.
 * Reads `{server, jobs, concurrency}` as JSON on stdin and prints the results
 * as JSON on stdout.
 *
 * @module
 */
import { type HandshakeJob, handshakeMany, type ServerAddress } from "./initiator.ts";

interface Input {
  server: ServerAddress;
  jobs: HandshakeJob[];
  concurrency?: number;
}

const input = JSON.parse(await new Response(Deno.stdin.readable).text()) as Input;
const results = await handshakeMany(input.jobs, input.server, input.concurrency);
console.log(JSON.stringify(results));
