/**
 * A new user's first command on a truly fresh Debian 12: `bash scripts/dev.sh demo`
 * as root in a `debootstrap --variant=minbase bookworm` root, which has no
 * node, npm, curl, CA bundle, WireGuard or iproute2. It must install what it
 * lacks, tell its story without download lines, and end with nothing lost.
 */
import assert from "node:assert/strict";
import { sh } from "../harness/sh.ts";

const FRESH_ROOT = new URL("../support/fresh_root.sh", import.meta.url).pathname;

/** Runs `command` in a new fresh root; the root is removed afterwards. */
async function inFreshRoot(command: string[]) {
  const dir = await Deno.makeTempDir({ prefix: "wr-fresh-root-" });
  try {
    const started = performance.now();
    const r = await sh(["bash", FRESH_ROOT, `${dir}/root`, "--", ...command], { allowFail: true });
    return { ...r, seconds: (performance.now() - started) / 1000 };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("demo.sh installs what it lacks and runs on a minbase Debian root", async () => {
  const r = await inFreshRoot(["bash", "scripts/dev.sh", "demo"]);
  console.log(`demo.sh on a minbase root: exit ${r.code} in ${r.seconds.toFixed(1)} s`);
  assert.strictEqual(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, /dev.sh: installing .*wireguard-tools.*curl.*ca-certificates/);
  assert.match(r.stderr, /dev.sh: fetching @deno\/linux-x64-glibc@/);
  assert.match(r.stdout, /^3 endpoints forgotten, 2 peers protected, 0 lost\.$/m);
  assert.doesNotMatch(r.stdout, /Download|\bTask\b/);
  // Only `run` warns of the forced short threshold; `status` cuts no session.
  assert.strictEqual((r.stdout + r.stderr).match(/live sessions will be cut/g)?.length, 1);
});

Deno.test("ensure_vm.sh on a root whose only kernel is 6.12-rt adds a plain kernel, and reads zstd", async () => {
  // What `apt-get install wireguard-tools` with recommends leaves: only an -rt
  // kernel (zstd-compressed, as Debian's 6.12 kernels are).
  const script = `set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends linux-image-6.12-rt-amd64 >/dev/null
echo "kernels before: $(cd /boot && echo vmlinuz-*)"
bash scripts/vm/ensure_vm.sh
rt=$(cd /boot && ls vmlinuz-*-rt-amd64 | sed 's/^vmlinuz-//')
WG_VM_KVER=$rt bash scripts/vm/ensure_vm.sh
for k in .tools/vm/*/vmlinux; do echo "$k $(head -c 4 "$k" | od -An -tx1 | tr -d ' ')"; done`;
  const r = await inFreshRoot(["bash", "-c", script]);
  console.log(
    `ensure_vm.sh on a minbase root with only 6.12-rt: exit ${r.code} in ${r.seconds.toFixed(1)} s`,
  );
  assert.strictEqual(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^kernels before: vmlinuz-6\.12\.[^ ]*-rt-amd64$/m);
  assert.match(r.stderr, /ensure_vm: installing .*linux-image-amd64/);
  const chosen = [...r.stdout.matchAll(/^VM_KVER=(.+)$/gm)].map((m) => m[1]);
  assert.strictEqual(chosen.length, 2, r.stdout);
  assert.match(chosen[0], /^\d+\.\d+\.\d+-\d+-amd64$/, "the default is a plain-flavour kernel");
  assert.match(chosen[1], /-rt-amd64$/);
  assert.match(r.stderr, /ensure_vm: kernel .*-rt-amd64 .*zstd at byte \d+/);
  for (const kver of chosen) {
    assert.ok(r.stdout.split("\n").includes(`.tools/vm/${kver}/vmlinux 7f454c46`), kver);
  }
});
