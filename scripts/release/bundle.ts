/**
 * The shipped form of the program: `deno bundle` of src/main.ts, minified,
 * with code splitting, so that each subcommand's code (and node:util, which
 * LogTape and parseArgs import) is a chunk loaded when that subcommand runs.
 * `--version` loads only the entry. The compiled binaries are built from it.
 *
 * `--platform browser` only changes which build of an npm package is taken:
 * yaml's `node` build is CommonJS, and a bundle holding any CommonJS puts a
 * `createRequire` shim (node:module) into the chunk every command loads,
 * which cost each start 8 MB and 30 ms (docs/benchmarks.md, part m). Its
 * other build is ESM and reads the same YAML.
 * `deno task bundle` writes it to dist/bundle/; `bundleTo` serves the build,
 * the tests and the benchmark.
 *
 * @module
 */

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

/** Bundles the program into `dir` and returns the entry's path (`dir/main.js`). */
export async function bundleTo(dir: string): Promise<string> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--minify",
      "--code-splitting",
      "--platform",
      "browser",
      "--outdir",
      dir,
      MAIN,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (r.code !== 0) throw new Error(`deno bundle exited ${r.code}`);
  return `${dir}/main.js`;
}

/** The total size in bytes of the files in `dir`: the entry and its chunks. */
export async function bundleBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    total += (await Deno.stat(`${dir}/${entry.name}`)).size;
  }
  return total;
}

if (import.meta.main) {
  const dir = Deno.args[0] ?? new URL("../../dist/bundle", import.meta.url).pathname;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const entry = await bundleTo(dir);
  console.log(`${entry}: ${await bundleBytes(dir)} bytes in ${dir}`);
}
