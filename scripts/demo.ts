/**
 * The demo: a real wireguard-go server in a network namespace with real
 * clients. It shows what WireGuard remembers, runs `wg-reinstate status`,
 * waits until the sessions are stale, purges with `wg-reinstate run`, shows
 * that the endpoints are gone while every configuration stayed, and watches a
 * purged client come back. It ends with a count, and exits 1 if any peer's
 * configuration was lost.
 *
 * By default it uses `--stale-after 10 --force-short-threshold` so the demo
 * takes seconds; `--real` keeps the default 180 s and waits for real.
 *
 * Run as root: `bash scripts/dev.sh demo`, which installs what is missing.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { WgPeer } from "../src/wg/dump.ts";
import { labAvailable, type LabClient, WgLab } from "../tests/harness/lab.ts";
import { buildMixedServer, configOf } from "../tests/harness/scenario.ts";

const { values } = parseArgs({ args: Deno.args, options: { real: { type: "boolean" } } });
const staleAfter = values.real ? 180 : 10;
/**
 * WireGuard's keepalive and rekey timeouts together: a side whose data went
 * unanswered this long starts a new handshake.
 */
const UNANSWERED_S = 15;
/**
 * How long the stale clients' handshakes must be past before the purge:
 * beyond --stale-after, and beyond {@link UNANSWERED_S} (a peer's keepalive
 * can come late on a busy host), so that no session renews between the wait
 * and the purge.
 */
const quietFor = Math.max(staleAfter, UNANSWERED_S) + 2;
const main = new URL("../src/main.ts", import.meta.url).pathname;

function heading(text: string): void {
  console.log(`\n\x1b[1m== ${text}\x1b[0m`);
}

function short(key: string): string {
  return `${key.slice(0, 8)}…`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

if (!(await labAvailable())) {
  console.error(
    "demo: needs root, ip, wg and wireguard-go (bash scripts/dev.sh demo installs them)",
  );
  Deno.exit(1);
}

const lab = await WgLab.start();
let exitCode = 1;
try {
  heading(`A wireguard-go server (${lab.iface}) with real clients, each in its own namespace`);
  const s = await buildMixedServer(lab);
  // Every peer by role, in this order wherever peers are listed.
  const roles = new Map<string, string>([
    [s.roaming.keys.publicKey, "roaming client (no PSK)"],
    [s.psk.keys.publicKey, "client with preshared key"],
    [s.keepalive.keys.publicKey, "client over IPv6, keepalive 25"],
    [s.site.keys.publicKey, "site-to-site peer (wg-quick)"],
    [s.excluded.keys.publicKey, "excluded client (--exclude)"],
    [s.idleKey, "configured, never connected"],
    [s.halfKey, "initiation only, unconfirmed"],
  ]);
  const width = 32;
  for (const [key, role] of roles) console.log(`${role.padEnd(width)}${short(key)}`);

  const showEndpoints = async (): Promise<WgPeer[]> => {
    const peers = (await lab.dump()).peers;
    const byKey = new Map(peers.map((p) => [p.publicKey, p]));
    console.log(`$ wg show ${lab.iface} endpoints   (by role)`);
    for (const key of roles.keys()) {
      const peer = byKey.get(key);
      const endpoint = peer === undefined ? "(peer missing!)" : peer.endpoint ?? "(none)";
      console.log(`${roles.get(key)!.padEnd(width)}${short(key)}  ${endpoint}`);
    }
    return peers;
  };
  // One settings file for every call: the demo's own run-time files, so
  // `status` shows this demo's cycle and no other, and the host's
  // /var/run/wg-reinstate stays as it was.
  const configFile = `${lab.workDir}/demo.json`;
  const config = {
    interfaces: [lab.iface],
    staleAfter,
    ...(staleAfter < 180 ? { forceShortThreshold: true } : {}),
    exclude: [s.excluded.keys.publicKey],
    wgQuickConfig: s.wgQuickFile,
    logTimestamps: "off",
    statusFile: `${lab.workDir}/status.json`,
    lockDir: lab.workDir,
    keyDir: lab.workDir,
  };
  await Deno.writeTextFile(configFile, JSON.stringify(config, null, 2) + "\n");
  const cli = async (command: string): Promise<number> => {
    console.log(`$ wg-reinstate ${command} --config ${configFile}`);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--cached-only", "--allow-all", main, command, "--config", configFile],
      stdin: "null",
    }).spawn();
    return (await child.status).code;
  };

  heading("What WireGuard remembers: where every client connected from");
  await showEndpoints();

  heading(`Waiting, with no traffic, until the latest handshakes are ${quietFor} s old`);
  console.log(
    `A session is over once its latest handshake is older than --stale-after: ${staleAfter} s` +
      (staleAfter < 180 ? " in this demo, 180 s (WireGuard's own limit) by default." : "."),
  );
  await waitUntilQuiet(s.stale.map((c) => c.keys.publicKey));
  const active = await lab.addClient();
  await lab.ping(active);
  roles.set(active.keys.publicKey, "new client, just connected");
  console.log(`A new client ${short(active.keys.publicKey)} has just connected: it stays.`);

  heading("Before the purge");
  console.log(`$ cat ${configFile}\n${JSON.stringify(config, null, 2)}`);
  await cli("status");
  const before = (await lab.dump()).peers;

  heading("The purge");
  const code = await cli("run");
  console.log(`exit code ${code}`);

  heading("After the purge: the stale endpoints are gone, every configuration stayed");
  await cli("status");
  const after = await showEndpoints();

  await comeBack(s.roaming, roles.get(s.roaming.keys.publicKey)!);

  // The closing count, from WireGuard's own state before and after.
  const afterByKey = new Map(after.map((p) => [p.publicKey, p]));
  const forgotten = before.filter((p) =>
    p.endpoint && afterByKey.get(p.publicKey)?.endpoint === null
  );
  const protectedKeys = [s.site.keys.publicKey, s.excluded.keys.publicKey];
  const kept = protectedKeys.filter((k) =>
    afterByKey.get(k)?.endpoint === before.find((p) => p.publicKey === k)?.endpoint
  );
  const final = new Map((await lab.dump()).peers.map((p) => [p.publicKey, p]));
  const lost = before.filter((p) => {
    const now = final.get(p.publicKey);
    return now === undefined || JSON.stringify(configOf(now)) !== JSON.stringify(configOf(p));
  });
  heading("Done");
  console.log(
    `${forgotten.length} endpoints forgotten, ${kept.length} peers protected, ${lost.length} lost.`,
  );
  exitCode = code === 0 && lost.length === 0 && kept.length === protectedKeys.length ? 0 : 1;
} finally {
  await lab.close();
}
Deno.exit(exitCode);

/**
 * Waits until the latest handshake of every peer in `keys` is `quietFor`
 * seconds old, by WireGuard's own times: a handshake renewed meanwhile
 * extends the wait instead of leaving that session out of the purge.
 */
async function waitUntilQuiet(keys: readonly string[]): Promise<void> {
  for (;;) {
    const peers = (await lab.dump()).peers.filter((p) => keys.includes(p.publicKey));
    const newest = Math.max(...peers.map((p) => p.latestHandshake));
    // latest-handshake is whole seconds: one more covers the part cut off.
    const left = (newest + quietFor + 1) * 1000 - Date.now();
    if (left <= 0) return;
    await sleep(left);
  }
}

/** Watches a purged client come back: its new handshake, and the endpoint learned again. */
async function comeBack(client: LabClient, role: string): Promise<void> {
  heading(`A purged client comes back: the ${role} ${short(client.keys.publicKey)}`);
  console.log(
    "Waiting for its next handshake. Its own session is still fresh on its side, so it keeps\n" +
      `sending on it and the server drops those packets; after about ${UNANSWERED_S} s (keepalive and\n` +
      "rekey timeouts) the client starts a new handshake.",
  );
  const started = Date.now();
  const pinging = lab.pingUntilAnswered(client);
  let endpoint: string | null = null;
  while (endpoint === null && Date.now() - started < 40_000) {
    await sleep(250);
    endpoint = (await lab.dump()).peers.find((p) => p.publicKey === client.keys.publicKey)
      ?.endpoint ?? null;
  }
  await pinging;
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  console.log(
    `after ${seconds} s: a new handshake; WireGuard learned its endpoint again: ${endpoint}`,
  );
  console.log(`ping through ${client.iface}: answered`);
}
