/**
 * The demo: a real wireguard-go server in a network namespace with real
 * clients. It shows what WireGuard remembers, runs `wg-reinstate status`,
 * waits until the sessions are stale, purges with `wg-reinstate run`, and
 * shows that the endpoints are gone while every configuration stayed.
 *
 * By default it uses `--stale-after 10 --force-short-threshold` so the demo
 * takes seconds; `--real` keeps the default 180 s and waits for real.
 *
 * Run as root: `deno task demo` (or `bash scripts/demo.sh`, which installs
 * what is missing).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { labAvailable, WgLab } from "./lab/lab.ts";
import { sh } from "./lab/sh.ts";
import { buildMixedServer, protectionFlags } from "./lab/scenario.ts";

const { values } = parseArgs({ args: Deno.args, options: { real: { type: "boolean" } } });
const staleAfter = values.real ? 180 : 10;
const main = new URL("../src/main.ts", import.meta.url).pathname;

function heading(text: string): void {
  console.log(`\n\x1b[1m== ${text}\x1b[0m`);
}

async function cli(args: string[]): Promise<number> {
  console.log(`$ wg-reinstate ${args.join(" ")}`);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", main, ...args],
    stdin: "null",
  }).spawn();
  return (await child.status).code;
}

async function showEndpoints(lab: WgLab): Promise<void> {
  console.log(`$ wg show ${lab.iface} endpoints`);
  console.log((await sh(["wg", "show", lab.iface, "endpoints"])).stdout.trimEnd());
}

if (!(await labAvailable())) {
  console.error("demo: needs root, ip, wg and wireguard-go (bash scripts/demo.sh installs them)");
  Deno.exit(1);
}

const lab = await WgLab.start();
try {
  heading(`A wireguard-go server (${lab.iface}) with real clients, each in its own namespace`);
  const s = await buildMixedServer(lab);
  console.log([
    `roaming client (no PSK) ....... ${s.roaming.keys.publicKey.slice(0, 8)}…`,
    `client with preshared key ..... ${s.psk.keys.publicKey.slice(0, 8)}…`,
    `client over IPv6, keepalive 25  ${s.keepalive.keys.publicKey.slice(0, 8)}…`,
    `site-to-site peer (wg-quick) .. ${s.site.keys.publicKey.slice(0, 8)}…`,
    `excluded client (--exclude) ... ${s.excluded.keys.publicKey.slice(0, 8)}…`,
    `configured, never connected ... ${s.idleKey.slice(0, 8)}…`,
    `initiation only, unconfirmed .. ${s.halfKey.slice(0, 8)}…`,
  ].join("\n"));
  const policy = [
    "-i",
    lab.iface,
    ...protectionFlags(s),
    "--stale-after",
    String(staleAfter),
    ...(staleAfter < 180 ? ["--force-short-threshold"] : []),
    // The demo's own status file, so `status` shows this demo's cycle and no other.
    "--status-file",
    `${lab.workDir}/status.json`,
  ];

  heading("What WireGuard remembers: where every client connected from");
  await showEndpoints(lab);

  heading(`Waiting ${staleAfter + 2} s with no traffic, so the sessions go stale`);
  await new Promise((r) => setTimeout(r, (staleAfter + 2) * 1000));
  const active = await lab.addClient();
  await lab.ping(active);
  console.log(`a new client ${active.keys.publicKey.slice(0, 8)}… has just connected (active)`);

  heading("Before the purge");
  await cli(["status", ...policy]);

  heading("The purge");
  const code = await cli(["run", ...policy]);
  console.log(`exit code ${code}`);

  heading("After the purge");
  await cli(["status", ...policy]);
  await showEndpoints(lab);

  heading("A purged client comes back: a new handshake, traffic flows, a new endpoint");
  await lab.pingUntilAnswered(s.roaming);
  console.log(`ping through ${s.roaming.iface}: answered`);
  await cli(["status", ...policy]);
} finally {
  await lab.close();
}
