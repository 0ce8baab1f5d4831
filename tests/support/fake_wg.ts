/**
 * FAKE `wg`, in memory, for unit tests: it implements the {@link Wg}
 * interface the purge core uses, applies `wg set` arguments the way `wg`
 * does (peer blocks in order; `remove`; `allowed-ips` replacing the list;
 * `preshared-key FILE` read from the file; a new peer has no endpoint, no
 * handshake and goes to the end of the list), and lets a test script the
 * faults that real `wg` cannot be made to produce on demand.
 *
 * Time is virtual: a slow or hanging call advances {@link FakeWg.elapsedMs}
 * instead of waiting, so every branch runs in milliseconds. What is real
 * here is only the preshared-key files, which the fake reads as `wg` would.
 *
 * The lab tests (tests/lab/) prove the same paths end to end on real
 * wireguard-go.
 *
 * @module
 */
import { WgError } from "../../src/common/errors.ts";
import { WG_KEY_PATTERN } from "../../src/wg/constants.ts";
import type { WgInterface, WgPeer } from "../../src/wg/dump.ts";
import type { CallLimits, Wg } from "../../src/wg/run.ts";

/** A fault for the next call of one operation. */
export type Fault =
  /**
   * Applies the call's first `blocks` peer blocks, then fails. The default,
   * all but the last, leaves the last peer removed and not re-added: what a
   * `wg` killed between two netlink messages does.
   */
  | { kind: "fail-after"; blocks?: number }
  /** Fails before changing anything, as when `wg` cannot reach the interface. */
  | { kind: "fail" }
  /** Succeeds but skips the re-add of `key` (default: the call's first re-added peer). */
  | { kind: "lose-readd"; key?: string }
  /** Succeeds but re-adds `key` (default: the first) with other allowed-ips. */
  | { kind: "corrupt-readd"; key?: string }
  /** Never returns on its own: ends as a timeout after `timeoutMs`, having applied `blocks`. */
  | { kind: "hang"; blocks?: number };

/** One recorded call. */
export interface FakeCall {
  op: "show" | "set" | "interfaces";
  /** `show`: the interfaces asked for; `set`: the interface. */
  target: string;
  /** `set`: its arguments, exactly as a real `wg` would get them in argv. */
  args: readonly string[];
}

/** Options of the fake. */
export interface FakeWgOptions {
  /**
   * Like `--wg-timeout`: a call that would take longer ends as a timeout. A
   * call's own limit (from the caller's pace) wins over it.
   */
  timeoutMs?: number;
  /** Virtual milliseconds one peer block of a `set` takes (default 0). */
  msPerBlock?: number;
  /**
   * Bytes of argv above which `set` fails with E2BIG before changing
   * anything, as the kernel's exec does (default: no limit).
   */
  argvLimit?: number;
}

interface Block {
  key: string;
  remove: boolean;
  allowedIps?: string[];
  pskFile?: string;
  keepalive?: number | null;
}

/** FAKE `wg` (see the module doc). */
export class FakeWg implements Wg {
  /** Interfaces by name, peers in `wg show` order. */
  readonly state = new Map<string, WgPeer[]>();
  /** Every call, in order. */
  readonly calls: FakeCall[] = [];
  /** Virtual time spent in calls, in milliseconds: the clock to time calls by. */
  elapsedMs = 0;
  /** Every `set` call's time limit, in order (`undefined`: none given). */
  readonly limits: (number | undefined)[] = [];
  #faults = { show: [] as (Fault | null)[], set: [] as (Fault | null)[] };
  #afterSet: (() => Promise<void>) | null = null;

  /** @param options time limit, per-peer cost and argv limit */
  constructor(readonly options: FakeWgOptions = {}) {}

  /** Adds an interface with the given peers (copied). */
  addInterface(name: string, peers: readonly WgPeer[]): this {
    this.state.set(name, peers.map((p) => ({ ...p, allowedIps: [...p.allowedIps] })));
    return this;
  }

  /**
   * Scripts faults for the coming calls of `op`, in order: the first call
   * gets the first entry; `null` lets a call through unharmed.
   */
  script(op: "show" | "set", ...faults: (Fault | null)[]): this {
    this.#faults[op].push(...faults);
    return this;
  }

  /** Runs `hook` after every `set` call, failed or not: a test's way to act between calls. */
  onSet(hook: () => Promise<void>): this {
    this.#afterSet = hook;
    return this;
  }

  /** The peers of `name` right now (copies). */
  peers(name: string): WgPeer[] {
    return (this.state.get(name) ?? []).map((p) => ({ ...p, allowedIps: [...p.allowedIps] }));
  }

  /** The `set` calls made so far. */
  get sets(): FakeCall[] {
    return this.calls.filter((c) => c.op === "set");
  }

  /** @inheritdoc */
  interfaces(): Promise<string[]> {
    this.calls.push({ op: "interfaces", target: "", args: [] });
    return Promise.resolve([...this.state.keys()]);
  }

  /** @inheritdoc */
  show(interfaces: "all" | readonly string[]): Promise<WgInterface[]> {
    this.calls.push({
      op: "show",
      target: interfaces === "all" ? "all" : interfaces.join(","),
      args: [],
    });
    const fault = this.#faults.show.shift() ?? null;
    if (fault !== null) {
      return Promise.reject(new WgError("failed", "wg show failed (FAKE)"));
    }
    const names = interfaces === "all" ? [...this.state.keys()] : interfaces;
    if (names.length === 1 && !this.state.has(names[0])) {
      return Promise.reject(
        new WgError("no-interface", `WireGuard interface ${names[0]} does not exist (FAKE)`),
      );
    }
    return Promise.resolve(
      names.filter((n) => this.state.has(n)).map((name) => ({
        name,
        publicKey: null,
        listenPort: 51820,
        fwmark: null,
        peers: this.peers(name),
      })),
    );
  }

  /** @inheritdoc */
  async set(iface: string, args: readonly string[], limits: CallLimits = {}): Promise<void> {
    try {
      await this.#set(iface, args, limits);
    } finally {
      await this.#afterSet?.();
    }
  }

  async #set(iface: string, args: readonly string[], limits: CallLimits): Promise<void> {
    this.calls.push({ op: "set", target: iface, args: [...args] });
    this.limits.push(limits.timeoutMs);
    const argvBytes = args.reduce((n, a) => n + new TextEncoder().encode(a).length + 9, 0);
    if (this.options.argvLimit !== undefined && argvBytes > this.options.argvLimit) {
      throw new WgError("argv-too-long", "wg argument list too long (FAKE)");
    }
    const fault = this.#faults.set.shift() ?? null;
    const peers = this.state.get(iface);
    if (peers === undefined) {
      throw new WgError("no-interface", `WireGuard interface ${iface} does not exist (FAKE)`);
    }
    if (fault?.kind === "fail") throw new WgError("failed", `wg set ${iface} failed (FAKE)`);
    const blocks = parseBlocks(args);
    // How many blocks this call gets through: all, or as many as fit in the
    // time limit, or as many as the fault says.
    let limit = blocks.length;
    const perBlock = this.options.msPerBlock ?? 0;
    const timeout = limits.timeoutMs ?? this.options.timeoutMs ?? Infinity;
    if (fault?.kind === "fail-after") {
      limit = fault.blocks ?? blocks.length - 1;
    } else if (fault?.kind === "hang") {
      limit = fault.blocks ?? 0;
    } else if (perBlock * blocks.length > timeout) {
      limit = Math.floor(timeout / perBlock);
    }
    const skip = fault?.kind === "lose-readd" || fault?.kind === "corrupt-readd"
      ? (fault.key ?? blocks.find((b) => !b.remove)?.key)
      : undefined;
    for (const block of blocks.slice(0, limit)) {
      if (fault?.kind === "lose-readd" && !block.remove && block.key === skip) continue;
      await applyBlock(peers, block);
      if (fault?.kind === "corrupt-readd" && !block.remove && block.key === skip) {
        peers.find((p) => p.publicKey === skip)!.allowedIps = ["203.0.113.0/24"];
      }
    }
    if (fault?.kind === "fail-after") {
      this.elapsedMs += perBlock * limit;
      throw new WgError("failed", `wg set ${iface} failed (FAKE)`);
    }
    if (fault?.kind === "hang" || limit < blocks.length) {
      this.elapsedMs += timeout;
      throw new WgError("timeout", `wg set ${iface} did not finish (FAKE)`);
    }
    this.elapsedMs += perBlock * blocks.length;
  }
}

/** Splits `wg set` arguments into peer blocks, as `wg` reads them. */
function parseBlocks(args: readonly string[]): Block[] {
  const blocks: Block[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i];
    if (word === "peer") {
      blocks.push({ key: args[++i], remove: false });
      continue;
    }
    const block = blocks.at(-1);
    if (block === undefined) throw new WgError("failed", `wg set: unexpected ${word} (FAKE)`);
    if (word === "remove") block.remove = true;
    else if (word === "allowed-ips") block.allowedIps = args[++i].split(",");
    else if (word === "preshared-key") block.pskFile = args[++i];
    else if (word === "persistent-keepalive") {
      const value = args[++i];
      block.keepalive = value === "off" ? null : Number(value);
    } else throw new WgError("failed", `wg set: unknown argument ${word} (FAKE)`);
  }
  return blocks;
}

async function applyBlock(peers: WgPeer[], block: Block): Promise<void> {
  const index = peers.findIndex((p) => p.publicKey === block.key);
  if (block.remove) {
    if (index >= 0) peers.splice(index, 1);
    return;
  }
  let peer = peers[index];
  if (peer === undefined) {
    peer = {
      publicKey: block.key,
      presharedKey: null,
      endpoint: null,
      allowedIps: [],
      latestHandshake: 0,
      rxBytes: 0,
      txBytes: 0,
      persistentKeepalive: null,
    };
    peers.push(peer);
  }
  if (block.allowedIps !== undefined) peer.allowedIps = block.allowedIps;
  if (block.keepalive !== undefined) peer.persistentKeepalive = block.keepalive;
  if (block.pskFile !== undefined) {
    // As wg does: the key is read from the file, one line of base64.
    const psk = (await Deno.readTextFile(block.pskFile)).trim();
    if (!WG_KEY_PATTERN.test(psk)) throw new WgError("failed", "wg set: bad preshared key (FAKE)");
    peer.presharedKey = psk;
  }
}
