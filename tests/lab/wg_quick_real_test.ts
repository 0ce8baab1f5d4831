/**
 * The wg-quick reader against the real `wg` on real wireguard-go: it reads a
 * file exactly as `wg setconf` does (generated spellings, compared with what
 * the interface then holds), keeps the endpoints of peers dialed under
 * spellings only `wg` reads, reads a PostUp hook's `wg set … endpoint`, and
 * refuses a dangling symbolic link at the default path.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseWgQuick } from "../../src/config/wg_quick.ts";
import { ParseError } from "../../src/common/errors.ts";
import { runCli } from "../harness/cli.ts";
import { WgLab } from "../harness/lab.ts";
import { sh } from "../harness/sh.ts";
import { keyN } from "../support/peers.ts";

/** `word` with each letter's case chosen. */
const anyCase = (word: string) =>
  fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length })
    .map((up) => [...word].map((c, i) => up[i] ? c.toUpperCase() : c.toLowerCase()).join(""));

/** `text` with whitespace of any kind before, between and after its characters. */
const spaced = (text: string) =>
  fc.array(fc.constantFrom("", "", " ", "\t", "  ", "\v"), {
    minLength: text.length + 1,
    maxLength: text.length + 1,
  }).map((ws) => ws[0] + [...text].map((c, i) => c + ws[i + 1]).join(""));

const comment = fc.oneof(fc.constant(""), fc.stringMatching(/^#[^\n]{0,12}$/));

/** One `Key = value` line, spelled any way `wg` reads it. */
const line = (key: string, value: string) =>
  fc.tuple(anyCase(key).chain(spaced), spaced(value), comment)
    .map(([k, v, c]) => `${k}=${v}${c}`);

const header = (name: string) =>
  fc.tuple(anyCase(name).chain(spaced), comment).map(([n, c]) => `[${n}]${c}`);

interface PeerSpec {
  index: number;
  endpoint: boolean;
  allowed: boolean;
}

/**
 * One of wg-quick's own keys, which wg-quick takes when the key, trimmed,
 * is one of its own in any case (and hands to `wg`, which refuses it, when
 * broken by a space).
 */
const quickLine = (key: string, value: string) =>
  fc.tuple(
    anyCase(key),
    fc.constantFrom("", " ", "\t "),
    fc.constantFrom("", " "),
    fc.constantFrom(false, false, false, false, true),
  ).map(([k, lead, pad, broken]) =>
    `${lead}${broken ? `${k.slice(0, 2)} ${k.slice(2)}` : k}${pad}=${pad}${value}`
  );

/** wg-quick's keys: some of them, in any order, with a hook that sets no endpoint. */
const quickLines = fc.subarray([
  ["Address", "10.0.0.1/24"],
  ["DNS", "192.0.2.53"],
  ["MTU", "1420"],
  ["Table", "off"],
  ["PostUp", "ip link set %i mtu 1420"],
  ["SaveConfig", "false"],
]).chain((pairs) => fc.tuple(...pairs.map(([k, v]) => quickLine(k, v))));

/** A file of 1 to 4 peers; with `bad`, one line `wg` does not know. */
const file = fc.record({
  peers: fc.uniqueArray(
    fc.record({ index: fc.nat(999), endpoint: fc.boolean(), allowed: fc.boolean() }),
    { minLength: 1, maxLength: 4, selector: (p) => p.index },
  ),
  bad: fc.constantFrom(null, null, null, "Endpont=192.0.2.9:1", "Endpoint=", "Address=10.0.0.1/24"),
  crlf: fc.boolean(),
}).chain(({ peers, bad, crlf }) =>
  fc.tuple(
    // wg-quick sees its keys only under `[Interface]` in any case, without inner spaces.
    fc.oneof(anyCase("Interface").map((n) => `[${n}]`), header("Interface")),
    quickLines.map((lines) => lines.join("\n")),
    line("ListenPort", "51999"),
    ...peers.map((p: PeerSpec) =>
      fc.tuple(
        header("Peer"),
        line("PublicKey", keyN(p.index, 21)),
        p.endpoint ? line("Endpoint", `192.0.2.${p.index % 250 + 1}:5${p.index}`) : fc.constant(""),
        p.allowed ? line("AllowedIPs", `10.77.${p.index % 250}.0/24`) : fc.constant(""),
        fc.constantFrom("", "#", "   ", "# [Peer]"),
      ).map((lines) => lines.join("\n"))
    ),
  ).map((parts) => {
    const text = parts.join("\n") + (bad === null ? "" : `\n${bad}`) + "\n";
    return { peers, bad, text: crlf ? text.replaceAll("\n", "\r\n") : text };
  })
);

Deno.test("parseWgQuick reads generated spellings exactly as wg-quick strip and wg setconf do", async () => {
  const lab = await WgLab.start();
  try {
    // wg-quick wants a file named after an interface.
    const path = `${lab.workDir}/wgq.conf`;
    const stripped = `${lab.workDir}/stripped.conf`;
    await fc.assert(
      fc.asyncProperty(file, async ({ text }) => {
        await Deno.writeTextFile(path, text, { mode: 0o600 });
        // What `wg-quick up` hands to `wg`, and what `wg` then makes of it.
        const strip = await sh(["wg-quick", "strip", path], { allowFail: true });
        await Deno.writeTextFile(stripped, strip.stdout, { mode: 0o600 });
        const set = strip.code !== 0 ? strip : await sh(
          lab.inServerNs(["wg", "setconf", lab.iface, stripped]),
          { allowFail: true },
        );
        let ours: [string, boolean][] | null;
        try {
          ours = parseWgQuick(text, path, lab.iface).peers
            .map((p): [string, boolean] => [p.publicKey, p.endpointLine !== null]).sort();
        } catch (error) {
          assert.ok(error instanceof ParseError, String(error));
          ours = null;
        }
        if (set.code !== 0) {
          assert.strictEqual(
            ours,
            null,
            `wg refused it (${set.stderr.trim()}), the reader did not`,
          );
          return;
        }
        const theirs = (await lab.dump()).peers
          .map((p): [string, boolean] => [p.publicKey, p.endpoint !== null]).sort();
        assert.deepStrictEqual(ours, theirs);
      }),
      { numRuns: 120 },
    );
  } finally {
    await lab.close();
  }
});

Deno.test("run keeps endpoints dialed under spellings only wg reads, and by a PostUp hook", async () => {
  const lab = await WgLab.start();
  try {
    const sites = [
      await lab.addClient({ serverDials: true }),
      await lab.addClient({ serverDials: true }),
      await lab.addClient({ serverDials: true }),
    ];
    const roaming = await lab.addClient();
    for (const c of [...sites, roaming]) assert.ok(await lab.ping(c), "real handshake");
    const before = await lab.dump();
    const endpointOf = (key: string) => before.peers.find((p) => p.publicKey === key)!.endpoint!;
    const conf = `${lab.workDir}/${lab.iface}.conf`;
    await Deno.writeTextFile(
      conf,
      [
        "[Interface]",
        `PostUp = wg set %i peer ${sites[2].keys.publicKey} endpoint ${
          endpointOf(sites[2].keys.publicKey)
        }`,
        "[ Peer ]",
        `Public Key = ${sites[0].keys.publicKey}`,
        `End point = ${endpointOf(sites[0].keys.publicKey)}`,
        "[peer ]",
        `PUBLICKEY=${sites[1].keys.publicKey}`,
        `\tendPoint\t=\t${endpointOf(sites[1].keys.publicKey)} # the branch`,
        "[Peer]",
        `PublicKey = ${roaming.keys.publicKey}`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const shown = await runCli(["config", "-i", lab.iface, "--wg-quick-config", conf]);
    assert.strictEqual(shown.code, 0, shown.log);
    const reasons = JSON.parse(shown.stdout).interfaces[0].protected
      .map((p: { reasons: string[] }) => p.reasons);
    assert.deepStrictEqual(reasons, [
      [`wg-quick hook at ${conf}:2`],
      [`wg-quick Endpoint at ${conf}:5`],
      [`wg-quick Endpoint at ${conf}:8`],
    ]);

    const run = await runCli(["run", "-i", lab.iface, "--wg-quick-config", conf], {
      clockShift: 600,
    });
    assert.strictEqual(run.code, 0, run.log);
    assert.match(
      run.log,
      /4 peers checked, 1 purged \(stale=1\), kept configured-endpoint=3\n/,
    );
    const after = await lab.dump();
    for (const site of sites) {
      const peer = after.peers.find((p) => p.publicKey === site.keys.publicKey)!;
      assert.strictEqual(peer.endpoint, endpointOf(site.keys.publicKey), "a dialed endpoint kept");
    }
    const client = after.peers.find((p) => p.publicKey === roaming.keys.publicKey)!;
    assert.strictEqual(client.endpoint, null, "the roaming client's endpoint forgotten");
  } finally {
    await lab.close();
  }
});

Deno.test("run refuses a dangling symbolic link at the default wg-quick path, changing nothing", async () => {
  const lab = await WgLab.start();
  const etc = await Deno.makeTempDir({ prefix: "wr-etc-wireguard-" });
  try {
    const site = await lab.addClient({ serverDials: true });
    assert.ok(await lab.ping(site));
    const before = await lab.dump();
    // /etc/wireguard is this test's directory only in a mount namespace of its own.
    await Deno.symlink("/nonexistent/site.conf", `${etc}/${lab.iface}.conf`);
    const script = 'mount --bind "$0" /etc/wireguard && exec "$@"';
    const run = await runCli(["run", "-i", lab.iface], {
      clockShift: 600,
      wrap: ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, etc],
    });
    assert.strictEqual(run.code, 2, run.log);
    assert.match(
      run.log,
      new RegExp(
        `wg-quick-config: /etc/wireguard/${lab.iface}\\.conf: is a symbolic link to nothing`,
      ),
    );
    assert.deepStrictEqual(await lab.dump(), before, "nothing changed");
  } finally {
    await Deno.remove(etc, { recursive: true });
    await lab.close();
  }
});
