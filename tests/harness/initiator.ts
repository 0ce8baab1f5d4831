/**
 * A WireGuard handshake initiator (Noise_IKpsk2), written for the tests so
 * that hundreds of real clients can complete real handshakes against a
 * wireguard-go server without one wireguard-go process per client.
 *
 * It sends a handshake initiation, checks the server's response, and then
 * sends a keepalive: the server records the latest handshake only after that
 * key confirmation. With `confirm: false` it stops after the initiation is
 * answered: the server then knows the endpoint but records no handshake.
 *
 * @module
 */
import { x25519 } from "@noble/curves/ed25519.js";
import { chacha20poly1305, xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { blake2s } from "@noble/hashes/blake2.js";
import { hmac } from "@noble/hashes/hmac.js";
import dgram from "node:dgram";

const text = new TextEncoder();
const CONSTRUCTION = text.encode("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s");
const IDENTIFIER = text.encode("WireGuard v1 zx2c4 Jason@zx2c4.com");
const LABEL_MAC1 = text.encode("mac1----");
const LABEL_COOKIE = text.encode("cookie--");

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

const hash = (...parts: Uint8Array[]) => blake2s(concat(...parts));
const mac = (key: Uint8Array, data: Uint8Array) => blake2s(data, { key, dkLen: 16 });
const hmacB2s = (key: Uint8Array, data: Uint8Array) => hmac(blake2s, key, data);

function kdf(key: Uint8Array, input: Uint8Array, n: 1 | 2 | 3): Uint8Array[] {
  const t0 = hmacB2s(key, input);
  const out: Uint8Array[] = [];
  let prev = new Uint8Array(0);
  for (let i = 1; i <= n; i++) {
    prev = hmacB2s(t0, concat(prev, Uint8Array.of(i)));
    out.push(prev);
  }
  return out;
}

function nonce(counter: number): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(4, BigInt(counter), true);
  return n;
}

const seal = (key: Uint8Array, counter: number, plain: Uint8Array, ad: Uint8Array) =>
  chacha20poly1305(key, nonce(counter), ad).encrypt(plain);
const open = (key: Uint8Array, counter: number, sealed: Uint8Array, ad: Uint8Array) =>
  chacha20poly1305(key, nonce(counter), ad).decrypt(sealed);

function tai64n(): Uint8Array {
  const ms = Date.now();
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, (1n << 62n) + 10n + BigInt(Math.floor(ms / 1000)), false);
  view.setUint32(8, (ms % 1000) * 1_000_000 + Math.floor(Math.random() * 1_000_000), false);
  return out;
}

/** Base64 encoding of a key. */
export function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/** Base64 decoding of a key. */
export function fromBase64(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** A freshly generated key pair, base64. */
export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

/** Generates an X25519 key pair, as `wg genkey | wg pubkey` would. */
export function generateKeyPair(): KeyPair {
  const priv = x25519.utils.randomSecretKey();
  return { privateKey: toBase64(priv), publicKey: toBase64(x25519.getPublicKey(priv)) };
}

/** Generates a random preshared key, as `wg genpsk` would. */
export function generatePsk(): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(32)));
}

/** One client's handshake to run. */
export interface HandshakeJob {
  /** The UDP port to send from; 0 lets the system pick (it may reuse a closed one). */
  sourcePort?: number;
  privateKey: string;
  presharedKey?: string;
  /** false: stop after the response; the server learns the endpoint but records no handshake. */
  confirm: boolean;
  /**
   * A captured initiation (base64, from {@link HandshakeResult.initiation}) to
   * send again as it is, instead of a new one: a replay. The result says
   * whether the server answered it.
   */
  replay?: string;
  /**
   * Milliseconds from the start of the batch before this job begins: clients
   * that go idle at staggered times, from one process.
   */
  startAfterMs?: number;
}

/** Where the server listens. */
export interface ServerAddress {
  host: string;
  port: number;
  publicKey: string;
}

interface Initiation {
  message: Uint8Array;
  senderIndex: number;
  chainingKey: Uint8Array;
  hash: Uint8Array;
  ephemeral: CryptoKey;
  staticKey: CryptoKey;
}

// X25519 through WebCrypto: the runtime's native code, about 8 times faster
// than pure JavaScript, which matters for thousands of handshakes in the
// emulated VM. A raw private key is imported as PKCS #8 (RFC 8410's prefix).
const PKCS8_X25519 = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
);
const BASEPOINT = Uint8Array.of(9, ...new Uint8Array(31));

function importPrivate(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", concat(PKCS8_X25519, raw), { name: "X25519" }, false, [
    "deriveBits",
  ]);
}

async function dh(priv: CryptoKey, pub: Uint8Array): Promise<Uint8Array> {
  // A copy: WebCrypto takes a buffer of its own, not a view into a packet.
  const key = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(pub),
    { name: "X25519" },
    false,
    [],
  );
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: key }, priv, 256));
}

async function createInitiation(job: HandshakeJob, server: Uint8Array): Promise<Initiation> {
  const staticKey = await importPrivate(fromBase64(job.privateKey));
  const staticPub = await dh(staticKey, BASEPOINT);
  let c: Uint8Array = hash(CONSTRUCTION);
  let h: Uint8Array = hash(c, IDENTIFIER);
  h = hash(h, server);
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, true, [
    "deriveBits",
  ]) as CryptoKeyPair;
  const ephemeral = pair.privateKey;
  const ephemeralPub = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  [c] = kdf(c, ephemeralPub, 1);
  h = hash(h, ephemeralPub);
  let k: Uint8Array;
  [c, k] = kdf(c, await dh(ephemeral, server), 2);
  const staticSealed = seal(k, 0, staticPub, h);
  h = hash(h, staticSealed);
  [c, k] = kdf(c, await dh(staticKey, server), 2);
  const timestamp = seal(k, 0, tai64n(), h);
  h = hash(h, timestamp);
  const senderIndex = crypto.getRandomValues(new Uint32Array(1))[0];
  const head = new Uint8Array(8);
  const view = new DataView(head.buffer);
  view.setUint32(0, 1, true);
  view.setUint32(4, senderIndex, true);
  const body = concat(head, ephemeralPub, staticSealed, timestamp);
  const mac1 = mac(hash(LABEL_MAC1, server), body);
  return {
    message: concat(body, mac1, new Uint8Array(16)),
    senderIndex,
    chainingKey: c,
    hash: h,
    ephemeral,
    staticKey,
  };
}

/** Returns the key-confirming keepalive for a valid response, or throws. */
async function consumeResponse(
  init: Initiation,
  job: HandshakeJob,
  msg: Uint8Array,
): Promise<Uint8Array> {
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  if (msg.length !== 92 || view.getUint32(8, true) !== init.senderIndex) {
    throw new Error("not our response");
  }
  const responderIndex = view.getUint32(4, true);
  const ephemeralR = msg.subarray(12, 44);
  const emptySealed = msg.subarray(44, 60);
  let c: Uint8Array = init.chainingKey;
  let h: Uint8Array = init.hash;
  [c] = kdf(c, ephemeralR, 1);
  h = hash(h, ephemeralR);
  [c] = kdf(c, await dh(init.ephemeral, ephemeralR), 1);
  [c] = kdf(c, await dh(init.staticKey, ephemeralR), 1);
  const psk = job.presharedKey ? fromBase64(job.presharedKey) : new Uint8Array(32);
  const [c3, tau, k] = kdf(c, psk, 3);
  c = c3;
  h = hash(h, tau);
  open(k, 0, emptySealed, h); // throws when the keys do not match
  const [sendKey] = kdf(c, new Uint8Array(0), 2);
  const keepalive = new Uint8Array(16);
  const kv = new DataView(keepalive.buffer);
  kv.setUint32(0, 4, true);
  kv.setUint32(4, responderIndex, true);
  kv.setBigUint64(8, 0n, true);
  return concat(keepalive, seal(sendKey, 0, new Uint8Array(0), new Uint8Array(0)));
}

/** Adds mac2 from a cookie reply (sent by a server under load) to the initiation. */
function applyCookie(init: Initiation, server: Uint8Array, reply: Uint8Array): void {
  const nonce24 = reply.subarray(8, 32);
  const sealed = reply.subarray(32, 64);
  const mac1 = init.message.subarray(116, 132);
  const cookie = xchacha20poly1305(hash(LABEL_COOKIE, server), nonce24, mac1).decrypt(sealed);
  init.message.set(mac(cookie, init.message.subarray(0, 132)), 132);
}

/** Outcome of one job: the UDP source port used, or an error. */
export interface HandshakeResult {
  ok: boolean;
  sourcePort: number;
  error?: string;
  /** The initiation as sent (base64): what an attacker on the path could capture. */
  initiation?: string;
  /** For a replay: whether the server answered it with a handshake response. */
  answered?: boolean;
}

/**
 * Runs one handshake from its own UDP socket (hence its own source port),
 * retrying the initiation every `retryMs` up to `tries` times.
 */
export async function handshake(
  job: HandshakeJob,
  server: ServerAddress,
  { retryMs = 1000, tries = 5, family = "udp4" as "udp4" | "udp6" } = {},
): Promise<HandshakeResult> {
  if (job.replay !== undefined) return replay(job, server, { waitMs: retryMs * 2, family });
  const serverKey = fromBase64(server.publicKey);
  const init = await createInitiation(job, serverKey);
  const socket = dgram.createSocket(family);
  return await new Promise((resolve) => {
    let attempts = 0;
    let finished = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (result: Omit<HandshakeResult, "sourcePort">) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      const sourcePort = (() => {
        try {
          return socket.address().port;
        } catch {
          return 0;
        }
      })();
      socket.close(() => resolve({ ...result, sourcePort }));
    };
    const send = () => {
      if (attempts++ >= tries) return finish({ ok: false, error: "no response" });
      socket.send(init.message, server.port, server.host);
      timer = setTimeout(send, retryMs);
    };
    socket.on("error", (error) => finish({ ok: false, error: String(error) }));
    socket.on("message", (data: Uint8Array) => {
      const msg = new Uint8Array(data);
      const type = msg[0];
      try {
        if (type === 3 && msg.length === 64) {
          applyCookie(init, serverKey, msg);
          clearTimeout(timer);
          send();
          return;
        }
        if (type !== 2) return;
        clearTimeout(timer);
        const initiation = toBase64(init.message);
        consumeResponse(init, job, msg).then((keepalive) => {
          // A retried initiation may be answered twice: the first answer has closed the socket.
          if (finished) return;
          if (!job.confirm) return finish({ ok: true, initiation });
          socket.send(keepalive, server.port, server.host, () => finish({ ok: true, initiation }));
        }, (error) => finish({ ok: false, error: String(error) }));
      } catch (error) {
        finish({ ok: false, error: String(error) });
      }
    });
    socket.bind(job.sourcePort ?? 0, send);
  });
}

/**
 * Sends a captured initiation once more, unchanged, and waits `waitMs` for
 * the server's answer: a response whose receiver index is the initiation's
 * sender index. Nobody can complete that handshake without the initiator's
 * ephemeral key, so a server that answers records the endpoint but no
 * handshake.
 */
function replay(
  job: HandshakeJob,
  server: ServerAddress,
  { waitMs, family }: { waitMs: number; family: "udp4" | "udp6" },
): Promise<HandshakeResult> {
  const message = fromBase64(job.replay!);
  const senderIndex = new DataView(message.buffer).getUint32(4, true);
  const socket = dgram.createSocket(family);
  return new Promise((resolve) => {
    let answered = false;
    const timer = setTimeout(() => finish(), waitMs);
    const finish = () => {
      clearTimeout(timer);
      const sourcePort = socket.address().port;
      socket.close(() => resolve({ ok: true, sourcePort, answered }));
    };
    socket.on("message", (data: Uint8Array) => {
      const msg = new Uint8Array(data);
      const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
      if (msg[0] === 2 && msg.length === 92 && view.getUint32(8, true) === senderIndex) {
        answered = true;
        finish();
      }
    });
    socket.bind(job.sourcePort ?? 0, () => socket.send(message, server.port, server.host));
  });
}

/** Runs many handshakes with at most `concurrency` in flight. */
export async function handshakeMany(
  jobs: readonly HandshakeJob[],
  server: ServerAddress,
  concurrency = 32,
): Promise<HandshakeResult[]> {
  const results: HandshakeResult[] = new Array(jobs.length);
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const index = next++;
      const wait = start + (jobs[index].startAfterMs ?? 0) - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      results[index] = await handshake(jobs[index], server, {
        family: server.host.includes(":") ? "udp6" : "udp4",
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
  return results;
}
