/**
 * FAKE `wg`, in memory, for unit tests: it implements the typed {@link Wg}
 * seam the purge core uses, replaces peers the way `wg` does (each peer
 * removed, then added back with the configuration given: a new peer has no
 * endpoint and no handshake, and goes to the end of the list), and lets a
 * test script the faults that real `wg` cannot be made to produce on demand.
 * It builds and parses no argv: that is the real runner's (src/wg/replace.ts,
 * tested on its own).
 *
 * A call is a sequence of blocks, as `wg` sends it: each peer's removal,
 * then its re-add. Faults that stop part-way count in blocks.
 *
 * Time is virtual: a slow or hanging call advances {@link FakeWg.elapsedMs}
 * instead of waiting, so every branch runs in milliseconds.
 *
 * The lab tests (tests/lab/) prove the same paths end to end on real
 * wireguard-go.
 *
 * @module
 */
import { KeyFileError, WgError } from "../../src/common/errors.ts";
import type { DumpVisitor, WgInterface, WgPeer } from "../../src/wg/dump.ts";
import type { PeerConfig, ReplaceOptions, ReplaceResult, Wg } from "../../src/wg/command.ts";

/** A fault for the next call of one operation. */
export type Fault =
  /**
   * Applies the call's first `blocks` blocks, then fails. The default, all
   * but the last, leaves the last peer removed and not re-added: what a `wg`
   * killed between two netlink messages does.
   */
  | {
    kind: "fail-after";
    blocks?: number;
    /** Also applies the next block, a re-add, without its allowed IPs and key: a cut message. */
    damaged?: boolean;
  }
  /** Fails before changing anything, as when `wg` cannot reach the interface. */
  | { kind: "fail" }
  /** Succeeds but skips the re-add of `key` (default: the call's first peer). */
  | { kind: "lose-readd"; key?: string }
  /** Succeeds but re-adds `key` (default: the first) with other allowed-ips. */
  | { kind: "corrupt-readd"; key?: string }
  /** Never returns on its own: ends as a timeout after `timeoutMs`, having applied `blocks`. */
  | { kind: "hang"; blocks?: number }
  /**
   * Changes nothing, and reports every peer of the call as too large for
   * argv: what the real runner reports for a peer whose arguments alone get
   * E2BIG (it splits larger calls).
   */
  | { kind: "argv-too-long" };

/** One recorded call. */
export interface FakeCall {
  op: "show" | "set" | "interfaces";
  /** `show`: the interfaces asked for; `set`: the interface. */
  target: string;
  /** `set`: the peers to replace, as handed over (copies). */
  peers: readonly PeerConfig[];
}

/** Options of the fake. */
export interface FakeWgOptions {
  /**
   * Like `--wg-timeout`: a call that would take longer ends as a timeout. A
   * call's own limit (from the caller's pace) wins over it.
   */
  timeoutMs?: number;
  /** Virtual milliseconds one block of a `set` takes (default 0). */
  msPerBlock?: number;
}

type Block = { remove: true; key: string } | { remove: false; config: PeerConfig };

const copyConfig = (p: PeerConfig): PeerConfig => ({
  publicKey: p.publicKey,
  allowedIps: [...p.allowedIps],
  presharedKey: p.presharedKey,
  persistentKeepalive: p.persistentKeepalive,
});

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
  /** Every `set` call's key directory, in order (`undefined`: none given). */
  readonly keyDirs: (string | undefined)[] = [];
  #faults = { show: [] as (Fault | null)[], set: [] as (Fault | null)[] };
  #afterSet: (() => Promise<void>) | null = null;

  /** @param options time limit and per-block cost */
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

  /** The `set` calls (one `replacePeers` each) made so far. */
  get sets(): FakeCall[] {
    return this.calls.filter((c) => c.op === "set");
  }

  /** @inheritdoc */
  interfaces(): Promise<string[]> {
    this.calls.push({ op: "interfaces", target: "", peers: [] });
    return Promise.resolve([...this.state.keys()]);
  }

  /** @inheritdoc */
  show(interfaces: "all" | readonly string[]): Promise<WgInterface[]> {
    this.calls.push({
      op: "show",
      target: interfaces === "all" ? "all" : interfaces.join(","),
      peers: [],
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
  async scan(interfaces: "all" | readonly string[], visit: DumpVisitor): Promise<void> {
    for (const { peers, ...head } of await this.show(interfaces)) {
      await visit.iface(head);
      peers.forEach((peer, i) => visit.peer(peer, i + 2));
    }
  }

  /**
   * Replaces `peers` as one call. Like the real runner it wants a key
   * directory for a peer with a preshared key, and checks that directory
   * before anything runs: a replaced one fails the call for the peers with
   * a key, while those without one still go.
   */
  async replacePeers(
    iface: string,
    peers: readonly PeerConfig[],
    options: ReplaceOptions = {},
  ): Promise<ReplaceResult> {
    this.keyDirs.push(options.keys?.path);
    const indices = peers.map((_, i) => i);
    let go = indices;
    let keyFailure: KeyFileError | null = null;
    if (peers.some((p) => p.presharedKey !== null)) {
      if (!options.keys) throw new Error("internal: a preshared key without a key directory");
      try {
        await options.keys.check();
      } catch (error) {
        if (!(error instanceof KeyFileError)) throw error;
        keyFailure = error;
        go = indices.filter((i) => peers[i].presharedKey === null);
      }
    }
    const result: ReplaceResult = { handed: [], unsettled: [], tooLarge: [], failure: keyFailure };
    if (go.length === 0) return result;
    try {
      this.#replace(iface, go.map((i) => peers[i]), options.timeoutMs);
      result.handed = go;
    } catch (error) {
      if (!(error instanceof WgError)) throw error;
      if (error.kind === "argv-too-long") {
        result.tooLarge = go;
      } else {
        result.handed = go;
        result.unsettled = go;
        result.failure ??= error;
      }
    } finally {
      await this.#afterSet?.();
    }
    return result;
  }

  #replace(iface: string, peers: readonly PeerConfig[], limitMs: number | undefined): void {
    this.calls.push({ op: "set", target: iface, peers: peers.map(copyConfig) });
    this.limits.push(limitMs);
    const fault = this.#faults.set.shift() ?? null;
    if (fault?.kind === "argv-too-long") {
      throw new WgError("argv-too-long", "wg argument list too long (FAKE)");
    }
    const state = this.state.get(iface);
    if (state === undefined) {
      throw new WgError("no-interface", `WireGuard interface ${iface} does not exist (FAKE)`);
    }
    if (fault?.kind === "fail") throw new WgError("failed", `wg set ${iface} failed (FAKE)`);
    const blocks = peers.flatMap((p): Block[] => [
      { remove: true, key: p.publicKey },
      { remove: false, config: p },
    ]);
    const limit = this.#blocksDone(fault, blocks.length, limitMs);
    const target = fault?.kind === "lose-readd" || fault?.kind === "corrupt-readd"
      ? (fault.key ?? peers[0]?.publicKey)
      : undefined;
    const cut = fault?.kind === "fail-after" && fault.damaged === true ? blocks[limit] : undefined;
    if (cut !== undefined && !cut.remove) {
      blocks[limit] = {
        remove: false,
        config: { ...cut.config, allowedIps: [], presharedKey: null },
      };
    }
    for (const block of blocks.slice(0, cut === undefined ? limit : limit + 1)) {
      if (block.remove) {
        const index = state.findIndex((p) => p.publicKey === block.key);
        if (index >= 0) state.splice(index, 1);
      } else if (!(fault?.kind === "lose-readd" && block.config.publicKey === target)) {
        state.push(readded(block.config));
        if (fault?.kind === "corrupt-readd" && block.config.publicKey === target) {
          state.at(-1)!.allowedIps = ["203.0.113.0/24"];
        }
      }
    }
    this.#finish(iface, fault, limit, blocks.length, limitMs);
  }

  /** How many blocks this call gets through: all, as many as fit its time, or as the fault says. */
  #blocksDone(fault: Fault | null, blocks: number, limitMs: number | undefined): number {
    const perBlock = this.options.msPerBlock ?? 0;
    const timeout = limitMs ?? this.options.timeoutMs ?? Infinity;
    if (fault?.kind === "fail-after") return fault.blocks ?? blocks - 1;
    if (fault?.kind === "hang") return fault.blocks ?? 0;
    if (perBlock * blocks > timeout) return Math.floor(timeout / perBlock);
    return blocks;
  }

  /** Spends the call's virtual time, and fails it when it did not get through. */
  #finish(
    iface: string,
    fault: Fault | null,
    done: number,
    blocks: number,
    limitMs: number | undefined,
  ): void {
    const perBlock = this.options.msPerBlock ?? 0;
    const timeout = limitMs ?? this.options.timeoutMs ?? Infinity;
    if (fault?.kind === "fail-after") {
      this.elapsedMs += perBlock * done;
      throw new WgError("failed", `wg set ${iface} failed (FAKE)`);
    }
    if (fault?.kind === "hang" || done < blocks) {
      this.elapsedMs += timeout;
      throw new WgError("timeout", `wg set ${iface} did not finish (FAKE)`);
    }
    this.elapsedMs += perBlock * blocks;
  }
}

/** A peer as `wg` adds it: the configuration given, no endpoint, no handshake, no traffic. */
function readded(config: PeerConfig): WgPeer {
  return {
    ...copyConfig(config),
    endpoint: null,
    latestHandshake: 0,
    rxBytes: 0,
    txBytes: 0,
  };
}
