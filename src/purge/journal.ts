/**
 * The purge journal: what a purge is about to change, written to its key
 * directory before each `wg set` call, so that a start after the purge was
 * killed (SIGKILL, a cgroup kill, the OOM killer: no `finally` runs) can put
 * back every peer the cut call may have damaged (see recover.ts).
 *
 * The journal lives in the key directory (wg/key_dir.ts): a 0700 directory
 * of root's on /run, a RAM file system, which already holds the purge's
 * preshared-key files and is removed with them once the purge is verified.
 * It holds, per call, the peers' public keys, allowed IPs, keepalive and the
 * name of their preshared-key file, how long the call should take, and a line when
 * the call exited 0. It never holds an endpoint or a time: nothing in it
 * says where a client was, or when.
 *
 * One line per record, in JSON: the interface first, then `call` and `done`
 * records. A record is appended before the call it describes starts, so a
 * line cut by a kill belongs to a call that never ran.
 *
 * @module
 */
import { ParseError } from "../common/errors.ts";
import * as z from "../common/z.ts";
import { IFACE_NAME_PATTERN, WG_KEY_PATTERN } from "../wg/constants.ts";
import { KeyDir } from "../wg/key_dir.ts";
import type { PeerConfig } from "../wg/command.ts";
import type { DirChecks } from "../common/dir_checks.ts";

/**
 * Which interface a journal is about. The interface index would tell one
 * re-created with the same key apart, but the program may not read /sys
 * (its Deno permissions deny /sys and /proc to all but --allow-all).
 */
export interface InterfaceIdentity {
  name: string;
  /** The interface's own public key, or `null` when it has none. */
  publicKey: string | null;
  listenPort: number;
}

/** A peer as a journal lists it: its configuration, with its preshared key by file name. */
export interface JournalPeer {
  publicKey: string;
  allowedIps: string[];
  /** The name of its preshared-key file in the same directory, or `null`. */
  psk: string | null;
  keepalive: number | null;
}

const key = z.string().check(z.regex(WG_KEY_PATTERN));
const identityLine = z.strictObject({
  t: z.literal("interface"),
  name: z.string().check(z.regex(IFACE_NAME_PATTERN)),
  publicKey: z.nullable(key),
  listenPort: z.number().check(z.int(), z.nonnegative(), z.maximum(65535)),
});
const peerEntry = z.strictObject({
  publicKey: key,
  allowedIps: z.array(z.string().check(z.maxLength(64))),
  psk: z.nullable(z.string().check(z.regex(/^psk-\d+$/))),
  keepalive: z.nullable(z.number().check(z.int(), z.positive())),
});
const callLine = z.strictObject({
  t: z.literal("call"),
  n: z.number().check(z.int()),
  expectedMs: z.number().check(z.nonnegative()),
  peers: z.array(peerEntry),
});
const doneLine = z.strictObject({ t: z.literal("done"), n: z.number().check(z.int()) });
const recordLine = z.discriminatedUnion("t", [callLine, doneLine]);

/** A journal read back: the interface, and the peers no finished call settled. */
export interface ReadJournal {
  iface: InterfaceIdentity;
  /** How long its last call should have taken (a `wg` it left may still be running). */
  lastExpectedMs: number;
  /**
   * Peers whose latest call has no `done` line: the call was cut, failed, or
   * never ran. Each as its latest call listed it.
   */
  unsettled: JournalPeer[];
}

/**
 * Parses a journal. A last line that does not parse was cut by the kill:
 * its call never started, so it is left out. A journal cut before its
 * interface record was whole records no call: its purge changed nothing,
 * and it is read as `null`, like no journal at all.
 *
 * @throws {ParseError} when any other line is not a journal record
 */
export function parseJournal(text: string): ReadJournal | null {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const parse = <T>(schema: z.ZodMiniType<T>, index: number): T | null => {
    let value: unknown;
    try {
      value = JSON.parse(lines[index]);
    } catch {
      value = undefined;
    }
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    if (index === lines.length - 1) return null;
    throw new ParseError({ source: "purge journal", line: index + 1 }, "not a journal record");
  };
  const head = lines.length > 0 ? parse(identityLine, 0) : null;
  if (head === null) return null;
  const latest = new Map<string, { n: number; peer: JournalPeer }>();
  const done = new Set<number>();
  let lastExpectedMs = 0;
  for (let i = 1; i < lines.length; i++) {
    const record = parse(recordLine, i);
    if (record === null) continue;
    if (record.t === "done") {
      done.add(record.n);
      continue;
    }
    lastExpectedMs = record.expectedMs;
    for (const peer of record.peers) latest.set(peer.publicKey, { n: record.n, peer });
  }
  return {
    iface: { name: head.name, publicKey: head.publicKey, listenPort: head.listenPort },
    lastExpectedMs,
    unsettled: [...latest.values()].filter((e) => !done.has(e.n)).map((e) => e.peer),
  };
}

/**
 * A purge's journal and the key directory it lives in, which also holds the
 * preshared-key files its calls read. Call {@link remove} in `finally`.
 */
export class PurgeJournal {
  #calls = 0;

  private constructor(readonly keys: KeyDir) {}

  /**
   * Creates a fresh key directory under `parent` and starts its journal.
   *
   * @throws {UnsafePathError} when `parent` fails the safe-path rule (nothing was changed)
   * @throws {KeyFileError} when the directory or the journal cannot be written
   */
  static async open(
    parent: string | undefined,
    dirs: DirChecks | undefined,
    iface: InterfaceIdentity,
  ): Promise<PurgeJournal> {
    const keys = await KeyDir.create(parent, dirs);
    try {
      await keys.appendJournal(`${JSON.stringify({ t: "interface", ...iface })}\n`);
    } catch (error) {
      await keys.remove().catch(() => {});
      throw error;
    }
    return new PurgeJournal(keys);
  }

  /**
   * Records the peers of the next call, before it starts, with their
   * preshared keys written to files, and how long it should take; returns
   * the call's number, for {@link done}.
   *
   * @throws {KeyFileError} when the directory was replaced, or a write failed
   */
  async begin(peers: readonly PeerConfig[], expectedMs: number): Promise<number> {
    const n = ++this.#calls;
    const entries: JournalPeer[] = [];
    for (const p of peers) {
      const file = p.presharedKey === null ? null : await this.keys.write(p.presharedKey);
      entries.push({
        publicKey: p.publicKey,
        allowedIps: p.allowedIps,
        psk: file === null ? null : file.slice(file.lastIndexOf("/") + 1),
        keepalive: p.persistentKeepalive,
      });
    }
    await this.keys.appendJournal(
      `${JSON.stringify({ t: "call", n, expectedMs, peers: entries })}\n`,
    );
    return n;
  }

  /**
   * Records that call `n` exited 0. A failure to write it is ignored: the
   * call's peers then count as unsettled, and a replay only purges them again.
   */
  async done(n: number): Promise<void> {
    await this.keys.appendJournal(`${JSON.stringify({ t: "done", n })}\n`).catch(() => {});
  }

  /** Removes the key directory, journal and preshared-key files included. */
  remove(): Promise<void> {
    return this.keys.remove();
  }
}
