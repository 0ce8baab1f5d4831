/**
 * The host's connection-tracking table after a purge, on real wireguard-go
 * in network namespaces whose nftables ruleset tracks UDP (`ct state`),
 * with real handshakes of clients over IPv4 and IPv6, of a client the
 * server dials, and of initiator peers: wg/conntrack.ts deletes every flow
 * of the port and no other; `run` leaves no entry of a purged client, and
 * neither its log nor `conntrack`'s command line holds an address; the
 * notrack rules of the docs keep the port out of the table. Needs root,
 * wireguard-go, `nft` and `conntrack` (Debian's `nftables` and `conntrack`).
 */
import assert from "node:assert/strict";
import { cliCommand, runCli } from "../harness/cli.ts";
import { type LabClient, type LoadPeer, WgLab } from "../harness/lab.ts";
import { sh } from "../harness/sh.ts";
import { nft, TRACKING } from "../support/tracking.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FLOWS_MAIN = `${ROOT}tests/support/flows_main.ts`;
/** Where Debian installs conntrack-tools: the first path the tool tries. */
const CONNTRACK = "/usr/sbin/conntrack";

/** One entry of the table: its original direction and its id. */
interface Flow {
  family: "ipv4" | "ipv6";
  src: string;
  dst: string;
  sport: number;
  dport: number;
  id: string;
}

/** An address as one canonical string: IPv6 compressed as inet_ntop does. */
function canonical(address: string): string {
  return address.includes(":") ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

/** The UDP entries of namespace `ns`'s table, both families, read with `conntrack -L`. */
async function udpFlows(ns: string): Promise<Flow[]> {
  const flows: Flow[] = [];
  for (const family of ["ipv4", "ipv6"] as const) {
    const out = await sh(["ip", "netns", "exec", ns, CONNTRACK, "-L", "-f", family, "-o", "id"]);
    for (const line of out.stdout.split("\n")) {
      const fields = line.trim().split(/\s+/);
      if (!fields.includes("udp")) continue;
      // The first of each is the original direction.
      const first = (name: string) =>
        fields.find((f) => f.startsWith(`${name}=`))!.slice(name.length + 1);
      flows.push({
        family,
        src: canonical(first("src")),
        dst: canonical(first("dst")),
        sport: Number(first("sport")),
        dport: Number(first("dport")),
        id: first("id"),
      });
    }
  }
  return flows;
}

const onPort = (port: number) => (f: Flow) => f.sport === port || f.dport === port;

/** The server's end of a client's veth link. */
const serverV4 = (client: LabClient) => `172.30.${client.index}.1`;

/** A tracked server with clients: the ones whose flows a purge is to forget. */
interface TrackedServer {
  clients: LabClient[];
  load: LoadPeer[];
  /** The clients' addresses as the server's `wg show` has them. */
  addresses: string[];
}

/**
 * Tracks UDP in the server's namespace, then makes real handshakes: a client
 * over IPv4, one over IPv6, one the server dials itself (its flow starts at
 * the server's port), three initiator peers. Plus a flow to another port of
 * the server, which no deletion may touch.
 */
async function trackedServer(lab: WgLab): Promise<TrackedServer> {
  await nft(lab.serverNs, TRACKING);
  // Dialed first, with a keepalive: the server's initiation opens its flow.
  const dialed = await lab.addClient({ serverDials: true, keepalive: 25 });
  const v4 = await lab.addClient();
  const v6 = await lab.addClient({ ipv6: true });
  const load = await lab.handshakeMany([{}, { psk: true }, {}]);
  assert.ok(load.every((p) => p.result.ok), "initiator peers handshake");
  for (const client of [dialed, v4, v6]) await lab.pingUntilAnswered(client);
  await sh([
    "ip",
    "netns",
    "exec",
    v4.ns,
    "bash",
    "-c",
    `echo other > /dev/udp/${serverV4(v4)}/9999`,
  ]);
  const addresses = (await lab.dump()).peers.map((p) => p.endpoint).filter((e) => e !== null)
    .map((e) => canonical(e!.replace(/:\d+$/, "").replace(/^\[|\]$/g, "")));
  assert.strictEqual(addresses.length, 6, "every peer has an endpoint");
  return { clients: [dialed, v4, v6], load, addresses };
}

/** Runs flows_main.ts in the server's namespace, whose table is the one to change. */
async function flowsInServerNs(lab: WgLab, ...args: string[]): Promise<Record<string, unknown>> {
  const out = await sh(
    lab.inServerNs([Deno.execPath(), "run", "--allow-all", FLOWS_MAIN, ...args]),
  );
  return JSON.parse(out.stdout);
}

Deno.test("conntrack deletes every tracked flow of a WireGuard port in a real table, and no other", async () => {
  const lab = await WgLab.start();
  try {
    const s = await trackedServer(lab);
    const before = await udpFlows(lab.serverNs);
    const ours = before.filter(onPort(lab.port));
    // Every client has a flow: IPv4 and IPv6, to the port and from it.
    for (const address of s.addresses) {
      assert.ok(ours.some((f) => f.src === address || f.dst === address), address);
    }
    assert.ok(ours.some((f) => f.family === "ipv6"), "an IPv6 flow");
    assert.ok(ours.some((f) => f.sport === lab.port), "a flow the server started from its port");
    const other = before.filter((f) => f.dport === 9999);
    assert.strictEqual(other.length, 1);

    // status's counts: with conntrack -L, and from /proc/net/nf_conntrack without it.
    assert.deepStrictEqual(await flowsInServerNs(lab, "count", String(lab.port)), {
      conntrack: "installed",
      ports: [lab.port],
      flows: ours.length,
      error: null,
    });
    const missing = await flowsInServerNs(lab, "count", String(lab.port), "/nonexistent/conntrack");
    assert.deepStrictEqual(missing, {
      conntrack: "missing",
      ports: [lab.port],
      flows: ours.length,
      error: null,
    });

    for (const client of s.clients) await lab.stopClient(client);
    const outcome = await flowsInServerNs(lab, "forget", String(lab.port));
    assert.strictEqual(outcome.result, "done", JSON.stringify(outcome));
    assert.ok((outcome.deleted as number) >= ours.length, JSON.stringify(outcome));
    const after = await udpFlows(lab.serverNs);
    const ids = new Set(after.map((f) => f.id));
    // A packet on its way may have made a new entry since; none of the old ones is left.
    assert.deepStrictEqual(ours.filter((f) => ids.has(f.id)), []);
    assert.deepStrictEqual(after.filter((f) => f.dport === 9999).map((f) => f.id), [other[0].id]);
    console.log(`conntrack: ${ours.length} flows of port ${lab.port} deleted, 1 other kept`);
  } finally {
    await lab.close();
  }
});

Deno.test("run leaves no tracked flow of a purged client, and no address in its log or in conntrack's argv", async () => {
  const lab = await WgLab.start();
  const watch = await Deno.makeTempDir({ prefix: "wr-conntrack-argv-" });
  try {
    // conntrack as the tool finds it, wrapped to record its argv: the real
    // program (a copy) does the work, bind-mounted over in a private mount
    // namespace so the host's stays as it is.
    await Deno.copyFile(CONNTRACK, `${watch}/conntrack.real`);
    await Deno.writeTextFile(
      `${watch}/conntrack`,
      `#!/bin/sh\necho "$*" >> ${watch}/argv\nexec ${watch}/conntrack.real "$@"\n`,
      { mode: 0o755 },
    );
    const s = await trackedServer(lab);
    for (const client of s.clients) await lab.stopClient(client);
    const before = (await udpFlows(lab.serverNs)).filter(onPort(lab.port));
    const ofClient = (f: Flow) => s.addresses.includes(f.src) || s.addresses.includes(f.dst);
    assert.ok(before.filter(ofClient).length >= s.addresses.length, JSON.stringify(before));

    const { cmd, env } = cliCommand(["run", "-i", lab.iface, "--log-level", "debug"], {
      clockShift: 300,
      netns: lab.serverNs,
    });
    const run = await sh([
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "--",
      "sh",
      "-c",
      `mount --bind ${watch}/conntrack ${CONNTRACK} && exec "$@"`,
      "sh",
      ...cmd,
    ], { env, allowFail: true });
    const log = run.stderr + run.stdout;
    assert.strictEqual(run.code, 0, log);
    assert.match(log, /6 peers checked, 6 purged \(stale=6\)/);
    assert.match(
      log,
      new RegExp(`connection-tracking flows of UDP port ${lab.port} deleted: \\d+`),
    );

    const after = await udpFlows(lab.serverNs);
    assert.deepStrictEqual(after.filter(ofClient).filter(onPort(lab.port)), []);
    assert.deepStrictEqual(after.filter(onPort(lab.port)), []);
    assert.strictEqual(after.filter((f) => f.dport === 9999).length, 1, "another port's flow kept");

    // No address anywhere: the log, the command lines conntrack was given.
    const argv = (await Deno.readTextFile(`${watch}/argv`)).trimEnd().split("\n");
    assert.deepStrictEqual(
      argv.sort(),
      ["ipv4", "ipv6"].flatMap((family) =>
        ["dst", "src"].map((side) => `-D -f ${family} -p udp --orig-port-${side} ${lab.port}`)
      ).sort(),
    );
    for (const address of s.addresses) {
      assert.ok(!log.includes(address), `log leaks ${address}`);
      assert.ok(!argv.join("\n").includes(address), `argv leaks ${address}`);
    }
    assert.doesNotMatch(log, /\b172\.30\.|fd30:/);

    const status = await runCli(["status", "-i", lab.iface], { netns: lab.serverNs });
    assert.strictEqual(status.code, 0, status.log);
    assert.match(
      status.stdout,
      new RegExp(`^Connection tracking: 0 tracked flows on UDP port ${lab.port}; `, "m"),
    );
    console.log(`conntrack: run deleted ${before.length} flows; ${argv.length} conntrack calls`);
  } finally {
    await lab.close();
    await Deno.remove(watch, { recursive: true });
  }
});

/** The first fenced block of `language` in a doc. */
async function docBlock(path: string, language: string): Promise<string> {
  const text = await Deno.readTextFile(`${ROOT}${path}`);
  const block = text.match(new RegExp("```" + language + "\\n([\\s\\S]*?)```"));
  assert.ok(block !== null, `${path} has a ${language} block`);
  return block[1];
}

Deno.test("the notrack rules of the docs keep the WireGuard port out of the table", async (t) => {
  const readme = (await Deno.readTextFile(`${ROOT}README.md`)).replace(/\s+/g, " ");
  const plain = await docBlock("docs/safety.md", "nft");
  const fw4 = await docBlock("docs/openwrt.md", "nft");
  for (const rule of ["udp dport 51820 notrack", "udp sport 51820 notrack"]) {
    assert.ok(readme.includes(rule) && plain.includes(rule) && fw4.includes(rule), rule);
  }
  const cases: [string, string][] = [
    ["plain nftables (docs/safety.md)", plain],
    // fw4 includes /etc/nftables.d/*.nft inside its own table.
    ["fw4's /etc/nftables.d file (docs/openwrt.md)", `table inet fw4 {\n${fw4}}\n`],
  ];
  for (const [name, ruleset] of cases) {
    await t.step(name, async () => {
      const lab = await WgLab.start();
      try {
        await nft(lab.serverNs, ruleset);
        const s = await trackedServer(lab);
        const flows = await udpFlows(lab.serverNs);
        assert.deepStrictEqual(flows.filter(onPort(lab.port)), []);
        // The table works: another port's flow is in it.
        assert.strictEqual(flows.filter((f) => f.dport === 9999).length, 1);
        assert.ok(s.load.length > 0);
      } finally {
        await lab.close();
      }
    });
  }
});
