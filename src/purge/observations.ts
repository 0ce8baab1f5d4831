/**
 * What the daemon has seen of each peer, and of the clocks. A router has no
 * real-time clock and steps its wall clock at boot (NTP); a step forward
 * makes every live handshake look old. So the daemon trusts a handshake's
 * wall-clock age only for a handshake made while it watched, with no
 * forward step of the wall clock against the monotonic one since; any other
 * peer it purges only once it has itself watched the same handshake state,
 * unchanged, for stale-after on the monotonic clock (see plan.ts).
 *
 * It also remembers, in memory only, the peers it purged that have not
 * completed a handshake since: an endpoint that appears on one of them
 * without a handshake came from a replayed initiation (see plan.ts).
 *
 * Only the handshake value of peers that hold an endpoint is kept, never
 * the endpoint itself; a peer without one needs no watch.
 *
 * @module
 */
import type { WgPeer } from "../wg/dump.ts";

/**
 * Seconds the wall clock may gain on the monotonic clock between two reads
 * before it counts as a step: NTP slews far less (at most 500 ppm), and a
 * suspended system that wakes counts as a step, which only delays purges.
 */
export const STEP_TOLERANCE_S = 1;

interface Seen {
  /** The key, copied: see {@link own}. */
  key: string;
  latestHandshake: number;
  since: number;
}

/** What a watch answers for a peer, by public key: seconds (monotonic). */
export interface Seconds {
  get(key: string): number | undefined;
  has(key: string): boolean;
}

/** What planning one interface may rely on, from the daemon's watch. */
export interface Watch {
  /**
   * Unix seconds after which every handshake was made while the daemon
   * watched with no forward step of the wall clock: its age is real.
   */
  trustedAfter: number;
  /**
   * Monotonic seconds each peer with an endpoint has been seen with the same
   * latest handshake (absent, as 0: just now). A peer without an endpoint
   * is never purged, so none is kept for it; when it gains one, its watch
   * starts then, as it would have anyway.
   */
  watched: Seconds;
  /**
   * Peers this daemon purged that have not completed a handshake since,
   * with the monotonic seconds since that purge.
   */
  purgedAgo: Seconds & { values(): Iterable<number> };
}

/**
 * A copy of `text` that shares no memory with the string it was cut from.
 * V8 keeps a substring's whole parent alive: a key cut from a dump line
 * would keep the line (about four times its size) for as long as the daemon
 * remembers the peer.
 */
function own(text: string): string {
  return JSON.parse(JSON.stringify(text));
}

/** The daemon's memory of peer states and of the clocks, across cycles. */
export class PeerObservations {
  #seen = new Map<string, Map<string, Seen>>();
  /** Peers purged by this daemon, by interface: monotonic seconds of the purge. */
  #purged = new Map<string, Map<string, number>>();
  #trustedAfter: number | null = null;
  /** Wall minus monotonic seconds at the last read. */
  #offset: number | null = null;

  /**
   * Notes the clocks at a read: a forward step of the wall clock since the
   * last read (or the first read) starts the trusted watch anew.
   *
   * @param wallNow unix seconds
   * @param monotonicNow seconds on a clock that never steps (performance.now)
   */
  clocks(wallNow: number, monotonicNow: number): void {
    const offset = wallNow - monotonicNow;
    if (this.#offset === null || offset - this.#offset > STEP_TOLERANCE_S) {
      this.#trustedAfter = Math.floor(wallNow);
    }
    this.#offset = offset;
  }

  /**
   * Starts recording a read of `iface`: hand each peer to
   * {@link InterfaceWatch.see} as it is read, before it is planned, and call
   * {@link InterfaceWatch.end} once the read is whole. Call {@link clocks}
   * first for the same read.
   */
  watch(iface: string, monotonicNow: number): InterfaceWatch {
    return new InterfaceWatch(
      monotonicNow,
      this.#trustedAfter ?? Infinity,
      this.#seen.get(iface) ?? new Map(),
      this.#purged.get(iface) ?? new Map(),
      (seen, purged) => {
        this.#seen.set(iface, seen);
        this.#purged.set(iface, purged);
      },
    );
  }

  /** Remembers that this daemon purged `keys` on `iface` at `monotonicNow`. */
  purged(iface: string, keys: readonly string[], monotonicNow: number): void {
    const purged = this.#purged.get(iface) ?? new Map<string, number>();
    for (const key of keys) purged.set(own(key), monotonicNow);
    this.#purged.set(iface, purged);
  }
}

/** One read of one interface, as the daemon watches it (see {@link PeerObservations.watch}). */
export class InterfaceWatch implements Watch {
  readonly #after = new Map<string, Seen>();
  /** Peers it purged seen without a handshake since, in this read. */
  readonly #unanswered = new Set<string>();

  /** @internal Made by {@link PeerObservations.watch}. */
  constructor(
    private readonly now: number,
    readonly trustedAfter: number,
    private readonly before: ReadonlyMap<string, Seen>,
    private readonly purged: ReadonlyMap<string, number>,
    private readonly keep: (seen: Map<string, Seen>, purged: Map<string, number>) => void,
  ) {}

  /** Records one peer as read. */
  see(peer: WgPeer): void {
    if (peer.endpoint !== null) {
      const prev = this.before.get(peer.publicKey);
      const same = prev !== undefined && prev.latestHandshake === peer.latestHandshake;
      const key = prev?.key ?? own(peer.publicKey);
      const since = same ? prev.since : this.now;
      this.#after.set(key, { key, latestHandshake: peer.latestHandshake, since });
    }
    // A completed handshake ends the replay watch: the peer has a fresh session.
    if (peer.latestHandshake === 0 && this.purged.has(peer.publicKey)) {
      this.#unanswered.add(peer.publicKey);
    }
  }

  /**
   * Keeps what was seen once the read is whole: peers no longer on the
   * interface, without an endpoint, or with a handshake since a purge are
   * forgotten.
   */
  end(): void {
    this.keep(this.#after, this.#stillPurged());
  }

  /** The daemon's purges (monotonic time, by key) that this read saw unanswered. */
  #stillPurged(): Map<string, number> {
    return new Map([...this.purged].filter(([key]) => this.#unanswered.has(key)));
  }

  readonly watched: Seconds = {
    get: (key) => {
      const seen = this.#after.get(key);
      return seen === undefined ? undefined : this.now - seen.since;
    },
    has: (key) => this.#after.has(key),
  };

  readonly purgedAgo: Watch["purgedAgo"] = {
    get: (key) => this.#unanswered.has(key) ? this.now - this.purged.get(key)! : undefined,
    has: (key) => this.#unanswered.has(key),
    values: () => [...this.#stillPurged().values()].map((at) => this.now - at),
  };
}
