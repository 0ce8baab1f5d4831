/**
 * A real WireGuard test lab in network namespaces: a server, clients that
 * each live in their own namespace with a veth link to the server, and a
 * load-generator namespace where the handshake initiator runs hundreds of
 * clients. Every interface is either wireguard-go (`impl: "go"`, on any
 * Linux) or the kernel's WireGuard (`impl: "kernel"`, where the module
 * loads: in the test VM). Needs root, `ip` and `wg`, and `wireguard-go` for
 * the first.
 *
 * Every lab has a random id in all its names: wireguard-go's control socket
 * (/var/run/wireguard/<iface>.sock) is shared by all namespaces. Every `wg`
 * runs inside the interface's namespace (`ip netns exec`), as a kernel
 * interface requires; wireguard-go's sockets are reachable from there too.
 *
 * @module
 */
import { sh } from "./sh.ts";
import type { WgInterface } from "../../src/wg/dump.ts";
import { parseInterfaceDump } from "../support/dump_text.ts";
import {
  generateKeyPair,
  generatePsk,
  type HandshakeJob,
  type HandshakeResult,
  type KeyPair,
} from "./initiator.ts";

/** True when this process can build labs of `impl` (root with ip, wg, and wireguard-go for go). */
export async function labAvailable(impl: WgImpl = "go"): Promise<boolean> {
  if (Deno.uid() !== 0) return false;
  for (const tool of ["ip", "wg", ...(impl === "go" ? ["wireguard-go"] : [])]) {
    const found = await sh(["sh", "-c", `command -v ${tool}`], { allowFail: true });
    if (found.code !== 0) return false;
  }
  return true;
}

const SOCKET_DIR = "/var/run/wireguard";
const TUNNEL_PREFIX = "10.77";
/** Load peer n's allowed IP is 10.(78 + n / 65536).(n / 256 % 256).(n % 256)/32. */
const LOADGEN_SECOND_OCTET = 78;
// Load peers send from ports 20000 and up, one each (up to 45,535 peers).
const LOADGEN_FIRST_PORT = 20_000;

async function waitFor(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Which WireGuard the lab runs. */
export type WgImpl = "go" | "kernel";

/** A WireGuard interface in a namespace, of either implementation. */
interface LabInterface {
  readonly ns: string;
  readonly iface: string;
  /** Takes the interface down for good (the client went away). */
  stop(): Promise<void>;
}

/** Creates a WireGuard interface `iface` in namespace `ns`. */
function createInterface(impl: WgImpl, ns: string, iface: string, workDir: string) {
  return impl === "go" ? WireguardGo.start(ns, iface) : KernelInterface.create(ns, iface, workDir);
}

/** A kernel WireGuard interface. */
class KernelInterface implements LabInterface {
  private constructor(
    readonly ns: string,
    readonly iface: string,
    private readonly empty: string,
  ) {}

  static async create(ns: string, iface: string, workDir: string): Promise<KernelInterface> {
    await sh(["ip", "-n", ns, "link", "add", iface, "type", "wireguard"]);
    const empty = `${workDir}/empty.conf`;
    await Deno.writeTextFile(empty, "[Interface]\n");
    return new KernelInterface(ns, iface, empty);
  }

  /**
   * Empties the interface, then deletes it. Deleting a populated interface
   * removes its peers without RTNL held, one slow RCU grace period each
   * (~17 s per 1,000 peers measured); `wg setconf` with no peers takes 0.3 s.
   */
  async stop(): Promise<void> {
    await sh(["ip", "netns", "exec", this.ns, "wg", "setconf", this.iface, this.empty], {
      allowFail: true,
    });
    await sh(["ip", "-n", this.ns, "link", "del", this.iface], { allowFail: true });
  }
}

/** A wireguard-go process running in a namespace. */
class WireguardGo implements LabInterface {
  private constructor(
    readonly ns: string,
    readonly iface: string,
    private readonly child: Deno.ChildProcess,
  ) {}

  static async start(ns: string, iface: string): Promise<WireguardGo> {
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", ns, "wireguard-go", "-f", iface],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const wg = new WireguardGo(ns, iface, child);
    await waitFor(async () => {
      try {
        await Deno.stat(`${SOCKET_DIR}/${iface}.sock`);
        return true;
      } catch {
        return false;
      }
    }, `wireguard-go ${iface}`);
    return wg;
  }

  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* already gone */ }
    await this.child.status;
  }
}

/** What a load-generator peer should be like. */
export interface LoadPeerSpec {
  psk?: boolean;
  keepalive?: number;
  /** false: the initiator stops after the response (no recorded handshake). */
  confirm?: boolean;
  /**
   * A random public key without its private half: for a peer that never
   * handshakes (a benchmark's 200,000 peers, whose key pairs would take
   * minutes to compute under emulation).
   */
  keyOnly?: boolean;
}

/** How many load peers one `wg addconf` adds. */
const LOAD_CHUNK = 10_000;

/** A server peer driven by the handshake initiator. */
export interface LoadPeer {
  /** Its own UDP source port, so that no two peers share an endpoint. */
  sourcePort: number;
  keys: KeyPair;
  psk: string | null;
  keepalive: number | null;
  allowedIps: string[];
  confirm: boolean;
}

/** Options for a wireguard-go client. */
export interface ClientOptions {
  /** Give the server-side peer a preshared key. */
  psk?: boolean;
  /** Server-side persistent keepalive for this peer. */
  keepalive?: number;
  /** Connect to the server over IPv6. */
  ipv6?: boolean;
  /** Extra allowed IPs for the server-side peer, after the tunnel address. */
  extraAllowedIps?: string[];
  /** Site-to-site: the server has this client's endpoint configured and dials it. */
  serverDials?: boolean;
}

/** A real client: its own namespace, veth link and wireguard-go interface. */
export interface LabClient {
  index: number;
  ns: string;
  iface: string;
  keys: KeyPair;
  psk: string | null;
  /** The client's tunnel address, e.g. 10.77.0.2. */
  tunnelIp: string;
  /** The server-side peer's allowed IPs. */
  allowedIps: string[];
  wg: LabInterface;
}

/** Options of a lab. */
export interface LabOptions {
  /** wireguard-go (default) or the kernel's WireGuard. */
  impl?: WgImpl;
}

/** A WireGuard server with clients, all in namespaces made for one test. */
export class WgLab {
  readonly clients: LabClient[] = [];
  private readonly namespaces: string[] = [];
  private readonly interfaces: LabInterface[] = [];
  private loadgenNs: string | null = null;
  private loadgenCount = 0;
  readonly port = 51820;

  private constructor(
    readonly id: string,
    readonly serverNs: string,
    readonly iface: string,
    readonly serverKeys: KeyPair,
    readonly workDir: string,
    readonly impl: WgImpl,
  ) {}

  /** Creates the server namespace and its WireGuard interface. */
  static async start(options: LabOptions = {}): Promise<WgLab> {
    const id = crypto.getRandomValues(new Uint8Array(2)).reduce(
      (s, b) => s + b.toString(16).padStart(2, "0"),
      "",
    );
    const workDir = await Deno.makeTempDir({ prefix: `wr-lab-${id}-` });
    const impl = options.impl ?? "go";
    const lab = new WgLab(id, `wr-${id}-srv`, `wr${id}s`, generateKeyPair(), workDir, impl);
    try {
      await lab.addNamespace(lab.serverNs);
      lab.interfaces.push(await createInterface(impl, lab.serverNs, lab.iface, workDir));
      const keyFile = await lab.writeSecret("server.key", lab.serverKeys.privateKey);
      await lab.wg("set", lab.iface, "private-key", keyFile, "listen-port", String(lab.port));
      await lab.ip(lab.serverNs, "addr", "add", `${TUNNEL_PREFIX}.0.1/16`, "dev", lab.iface);
      await lab.ip(lab.serverNs, "link", "set", lab.iface, "up");
    } catch (error) {
      await lab.close();
      throw error;
    }
    return lab;
  }

  private async addNamespace(ns: string): Promise<void> {
    await sh(["ip", "netns", "add", ns]);
    this.namespaces.push(ns);
    await this.ip(ns, "link", "set", "lo", "up");
  }

  private async ip(ns: string, ...args: string[]): Promise<void> {
    await sh(["ip", "-n", ns, ...args]);
  }

  /** The command line that runs `cmd` in the server's namespace (the CLI under test, `wg`). */
  inServerNs(cmd: readonly string[]): string[] {
    return ["ip", "netns", "exec", this.serverNs, ...cmd];
  }

  /** Runs `wg ARGS` on the server, in its namespace. */
  async wg(...args: string[]): Promise<string> {
    return (await sh(this.inServerNs(["wg", ...args]))).stdout;
  }

  /** Writes a secret to a 0600 file in the lab's work dir. */
  async writeSecret(name: string, secret: string): Promise<string> {
    const path = `${this.workDir}/${name}`;
    await Deno.writeTextFile(path, secret + "\n", { mode: 0o600 });
    return path;
  }

  /** Links namespace `ns` to the server with veth pair number `n`; returns the server's addresses. */
  private async link(ns: string, n: number): Promise<{ v4: string; v6: string }> {
    const a = `wr${this.id}a${n}`;
    const b = `wr${this.id}b${n}`;
    await sh([
      "ip",
      "link",
      "add",
      a,
      "netns",
      this.serverNs,
      "type",
      "veth",
      "peer",
      "name",
      b,
      "netns",
      ns,
    ]);
    await this.ip(this.serverNs, "addr", "add", `172.30.${n}.1/24`, "dev", a);
    await this.ip(this.serverNs, "addr", "add", `fd30:0:0:${n}::1/64`, "dev", a, "nodad");
    await this.ip(this.serverNs, "link", "set", a, "up");
    await this.ip(ns, "addr", "add", `172.30.${n}.2/24`, "dev", b);
    await this.ip(ns, "addr", "add", `fd30:0:0:${n}::2/64`, "dev", b, "nodad");
    await this.ip(ns, "link", "set", b, "up");
    return { v4: `172.30.${n}.1`, v6: `fd30:0:0:${n}::1` };
  }

  /** Adds a peer on the server only (a site-to-site or excluded peer without a live client). */
  async addServerPeer(
    peer: {
      publicKey: string;
      allowedIps: string[];
      psk?: string | null;
      keepalive?: number;
      endpoint?: string;
    },
  ): Promise<void> {
    const args = [
      "set",
      this.iface,
      "peer",
      peer.publicKey,
      "allowed-ips",
      peer.allowedIps.join(","),
    ];
    if (peer.psk) {
      args.push("preshared-key", await this.writeSecret(`psk-${crypto.randomUUID()}`, peer.psk));
    }
    if (peer.keepalive) args.push("persistent-keepalive", String(peer.keepalive));
    if (peer.endpoint) args.push("endpoint", peer.endpoint);
    await this.wg(...args);
  }

  /** Adds a real wireguard-go client in its own namespace and its peer on the server. */
  async addClient(options: ClientOptions = {}): Promise<LabClient> {
    const index = this.clients.length + 2;
    const ns = `wr-${this.id}-c${index}`;
    await this.addNamespace(ns);
    const server = await this.link(ns, index);
    const iface = `wr${this.id}c${index}`;
    const wg = await createInterface(this.impl, ns, iface, this.workDir);
    this.interfaces.push(wg);
    const keys = generateKeyPair();
    const psk = options.psk ? generatePsk() : null;
    const tunnelIp = `${TUNNEL_PREFIX}.0.${index}`;
    const allowedIps = [`${tunnelIp}/32`, ...(options.extraAllowedIps ?? [])];
    const clientPort = this.port + 1;
    await this.addServerPeer({
      publicKey: keys.publicKey,
      allowedIps,
      psk,
      keepalive: options.keepalive,
      endpoint: options.serverDials ? `172.30.${index}.2:${clientPort}` : undefined,
    });
    const endpoint = options.ipv6 ? `[${server.v6}]:${this.port}` : `${server.v4}:${this.port}`;
    const clientArgs = [
      "set",
      iface,
      "private-key",
      await this.writeSecret(`c${index}.key`, keys.privateKey),
      "listen-port",
      String(clientPort),
      "peer",
      this.serverKeys.publicKey,
      "allowed-ips",
      `${TUNNEL_PREFIX}.0.1/32`,
      "endpoint",
      endpoint,
    ];
    if (psk) clientArgs.push("preshared-key", await this.writeSecret(`c${index}.psk`, psk));
    await sh(["ip", "netns", "exec", ns, "wg", ...clientArgs]);
    await this.ip(ns, "addr", "add", `${tunnelIp}/32`, "dev", iface);
    await this.ip(ns, "link", "set", iface, "up");
    await this.ip(ns, "route", "add", `${TUNNEL_PREFIX}.0.1/32`, "dev", iface);
    const client = { index, ns, iface, keys, psk, tunnelIp, allowedIps, wg };
    this.clients.push(client);
    return client;
  }

  /** Sends one ping through the client's tunnel; true when the server answered. */
  async ping(client: LabClient, timeoutSeconds = 2): Promise<boolean> {
    const result = await sh(
      [
        "ip",
        "netns",
        "exec",
        client.ns,
        "ping",
        "-c",
        "1",
        "-W",
        String(timeoutSeconds),
        `${TUNNEL_PREFIX}.0.1`,
      ],
      { allowFail: true },
    );
    return result.code === 0;
  }

  /** Pings until the server answers (a new handshake may take a retry), or throws. */
  async pingUntilAnswered(client: LabClient, timeoutMs = 40_000): Promise<void> {
    await waitFor(() => this.ping(client, 1), `a ping through ${client.iface}`, timeoutMs);
  }

  /** Takes a client's interface away: the client has gone away. */
  async stopClient(client: LabClient): Promise<void> {
    await client.wg.stop();
  }

  /**
   * Adds `count` server peers (allowed-ips in 10.78.0.0/16) for the
   * load-generator namespace, configured in as few `wg set` calls as argv
   * allows (keys go through files, never argv).
   */
  async addLoadPeers(specs: readonly LoadPeerSpec[]): Promise<LoadPeer[]> {
    if (this.loadgenNs === null) {
      this.loadgenNs = `wr-${this.id}-load`;
      await this.addNamespace(this.loadgenNs);
      await this.link(this.loadgenNs, 250);
    }
    const peers: LoadPeer[] = specs.map((spec) => {
      const n = this.loadgenCount++;
      return {
        sourcePort: LOADGEN_FIRST_PORT + n,
        confirm: spec.confirm ?? true,
        keepalive: spec.keepalive ?? null,
        keys: spec.keyOnly ? { privateKey: "", publicKey: generatePsk() } : generateKeyPair(),
        psk: spec.psk ? generatePsk() : null,
        allowedIps: [`10.${LOADGEN_SECOND_OCTET + (n >> 16)}.${(n >> 8) & 255}.${n & 255}/32`],
      };
    });
    // Through config files (`wg addconf`), a chunk at a time: a key file and an
    // argument per peer took minutes for 200,000 peers under emulation.
    for (let i = 0; i < peers.length; i += LOAD_CHUNK) {
      const text = peers.slice(i, i + LOAD_CHUNK).map((p) =>
        [
          "[Peer]",
          `PublicKey = ${p.keys.publicKey}`,
          `AllowedIPs = ${p.allowedIps.join(", ")}`,
          ...(p.psk ? [`PresharedKey = ${p.psk}`] : []),
          ...(p.keepalive ? [`PersistentKeepalive = ${p.keepalive}`] : []),
          "",
        ].join("\n")
      ).join("");
      const file = await this.writeSecret(`load-${crypto.randomUUID()}.conf`, text);
      try {
        await this.wg("addconf", this.iface, file);
      } finally {
        await Deno.remove(file);
      }
    }
    return peers;
  }

  /**
   * Completes real handshakes for load peers from the load-generator
   * namespace, each from its own UDP source port. Peers with
   * `confirm: false` stop after the response: the server learns the endpoint
   * but records no handshake. Can be repeated for the same peers. With
   * `staggerMs`, the n-th peer starts n × `staggerMs` after the first (give
   * a concurrency of at least the peer count).
   */
  runHandshakes(
    peers: readonly LoadPeer[],
    concurrency = 16,
    staggerMs = 0,
  ): Promise<HandshakeResult[]> {
    const jobs: HandshakeJob[] = peers.map((p, i) => ({
      sourcePort: p.sourcePort,
      privateKey: p.keys.privateKey,
      presharedKey: p.psk ?? undefined,
      confirm: p.confirm,
      startAfterMs: i * staggerMs,
    }));
    return this.runJobs(jobs, concurrency);
  }

  /**
   * Sends a captured handshake initiation again, from the load-generator
   * namespace and `sourcePort`: what an attacker who recorded it could do.
   * Resolves to whether the server answered.
   */
  async replay(initiation: string, sourcePort: number): Promise<boolean> {
    const [result] = await this.runJobs([{
      sourcePort,
      privateKey: "",
      confirm: false,
      replay: initiation,
    }], 1);
    return result.answered === true;
  }

  private async runJobs(jobs: HandshakeJob[], concurrency: number): Promise<HandshakeResult[]> {
    const out = await sh(
      [
        "ip",
        "netns",
        "exec",
        this.loadgenNs!,
        Deno.execPath(),
        "run",
        "--allow-all",
        new URL("./initiator_main.ts", import.meta.url).pathname,
      ],
      {
        stdin: JSON.stringify({
          server: { host: "172.30.250.1", port: this.port, publicKey: this.serverKeys.publicKey },
          jobs,
          concurrency,
        }),
      },
    );
    return JSON.parse(out.stdout) as HandshakeResult[];
  }

  /** {@link addLoadPeers} then {@link runHandshakes}. */
  async handshakeMany(
    specs: readonly LoadPeerSpec[],
  ): Promise<(LoadPeer & { result: HandshakeResult })[]> {
    const peers = await this.addLoadPeers(specs);
    const results = await this.runHandshakes(peers);
    return peers.map((p, i) => ({ ...p, result: results[i] }));
  }

  /** Reads the server interface with the project's own parser. */
  async dump(): Promise<WgInterface> {
    return parseInterfaceDump(this.iface, await this.wg("show", this.iface, "dump"));
  }

  /** Stops every process and deletes every namespace and file of the lab. */
  async close(): Promise<void> {
    for (const i of this.interfaces.reverse()) await i.stop();
    for (const ns of this.namespaces.reverse()) {
      await sh(["ip", "netns", "del", ns], { allowFail: true });
    }
    await Deno.remove(this.workDir, { recursive: true }).catch(() => {});
  }
}
