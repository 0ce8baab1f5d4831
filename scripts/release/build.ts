/**
 * `deno task build`: compiles standalone Linux binaries with `deno compile`
 * into dist/wg-reinstate-<version>-<arch>, with dist/SHA256SUMS, baking in the
 * permissions and V8 flags of scripts/release/runtime_flags.ts. What is compiled is
 * the bundle (scripts/release/bundle.ts): tree-shaken and split, so the binary holds
 * and loads only what each subcommand needs.
 *
 * `deno compile` needs `denort`, the Deno runtime for the target, of the same
 * version as the Deno running it. It is taken from, in this order:
 *   1. DENORT_BIN_X86_64 / DENORT_BIN_AARCH64: an unpacked denort binary for
 *      that target (passed on as DENORT_BIN, which ignores --target, so each
 *      target is compiled on its own);
 *   2. $DENO_DIR/dl/release/v<version>/denort-<target>.zip, pre-seeded;
 *   3. a download by `deno compile` itself.
 * When none works, it stops with one message saying what to provide. It
 * never leaves a partial or stand-in binary: output goes to a temporary name
 * and is renamed only when `deno compile` succeeded.
 *
 * Options: --out DIR (default dist), --arch x86_64|aarch64 (default both).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { bundleTo } from "./bundle.ts";
import { RUNTIME_FLAGS } from "./runtime_flags.ts";
import denoJson from "../../deno.json" with { type: "json" };

const TARGETS = {
  x86_64: { triple: "x86_64-unknown-linux-gnu", env: "DENORT_BIN_X86_64" },
  aarch64: { triple: "aarch64-unknown-linux-gnu", env: "DENORT_BIN_AARCH64" },
} as const;
type Arch = keyof typeof TARGETS;

const { values } = parseArgs({
  args: Deno.args,
  options: { out: { type: "string", default: "dist" }, arch: { type: "string", multiple: true } },
});
const arches = (values.arch ?? Object.keys(TARGETS)) as Arch[];
for (const arch of arches) {
  if (!(arch in TARGETS)) {
    console.error(`build: --arch ${arch}: expected x86_64 or aarch64`);
    Deno.exit(1);
  }
}
const denoVersion = Deno.version.deno;

/** A build that cannot go on; the message says what to provide. */
class BuildError extends Error {}

function fail(message: string): never {
  throw new BuildError(message);
}

async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  })
    .output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function compile(arch: Arch, out: string, main: string): Promise<string> {
  const { triple, env: envName } = TARGETS[arch];
  const seeded = `${await denoDir()}/dl/release/v${denoVersion}/denort-${triple}.zip`;
  const denortBin = Deno.env.get(envName);
  // Plain text errors, to quote the cause.
  const env: Record<string, string> = { NO_COLOR: "1" };
  if (denortBin !== undefined) {
    if (!(await exists(denortBin))) fail(`${envName}: ${denortBin}: no such file`);
    env.DENORT_BIN = denortBin;
  } else if (Deno.env.get("DENORT_BIN") !== undefined) {
    // DENORT_BIN ignores --target: a single one cannot serve two architectures.
    fail(`DENORT_BIN ignores the target; set ${envName} for ${triple} instead`);
  }
  const final = `${out}/wg-reinstate-${denoJson.version}-${arch}`;
  const partial = `${out}/.partial-wg-reinstate-${arch}`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      "--no-prompt",
      "--target",
      triple,
      "--output",
      partial,
      ...RUNTIME_FLAGS,
      main,
    ],
    env,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (r.code !== 0) {
    await Deno.remove(partial).catch(() => {});
    // The last cause deno gives, e.g. "failed to lookup address information".
    const causes = new TextDecoder().decode(r.stderr).split("Stack backtrace")[0]
      .split("\n").map((l) => l.trim()).filter((l) => l !== "");
    const why = (causes.at(-1) ?? "").replace(/^\d+: /, "");
    fail(
      `no denort for ${triple} (deno compile: ${why}). ` +
        `deno compile needs the Deno ${denoVersion} runtime (denort) for that target and could not get it. ` +
        `Provide ${envName}=/path/to/denort (an unpacked denort ${denoVersion} for ${triple}), ` +
        `or put denort-${triple}.zip from Deno's v${denoVersion} release at ${seeded}, ` +
        `or build where the download works. Nothing was written.`,
    );
  }
  await Deno.rename(partial, final);
  return final;
}

await Deno.mkdir(values.out, { recursive: true });
// The bundle goes to a temporary directory: only binaries land in --out.
const bundleDir = await Deno.makeTempDir({ prefix: "wg-reinstate-bundle-" });
const built: string[] = [];
try {
  const main = await bundleTo(bundleDir);
  for (const arch of arches) built.push(await compile(arch, values.out, main));
} catch (error) {
  if (!(error instanceof BuildError)) throw error;
  console.error(`build: ${error.message}`);
  Deno.exitCode = 1;
} finally {
  await Deno.remove(bundleDir, { recursive: true });
}
if (Deno.exitCode !== 0) Deno.exit();
const sums = await Promise.all(
  built.map(async (p) => `${await sha256(p)}  ${p.split("/").at(-1)}`),
);
await Deno.writeTextFile(`${values.out}/SHA256SUMS`, sums.join("\n") + "\n");
for (const p of built) console.log(`${p}: ${(await Deno.stat(p)).size} bytes`);
