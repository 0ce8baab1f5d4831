/**
 * The unit tier needs no privileges: it is run here as `nobody` on a copy of
 * the repository, with its own Deno cache, and must pass with 60 tests or
 * more. Its time is printed, not asserted (benchmarks are scripts).
 */
import assert from "node:assert/strict";
import { sh } from "../harness/sh.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const NOBODY = "65534";

/** The inner run's output, indented: .ci/run adds up the summaries that start a line. */
function quoted(text: string): string {
  return text.replace(/^/gm, "  | ");
}

Deno.test("unit tier passes as an unprivileged user", async () => {
  const work = await Deno.makeTempDir({ prefix: "wr-unpriv-" });
  try {
    // The repository's files (tracked and new, not ignored), readable by all.
    await sh([
      "sh",
      "-c",
      `cd "${ROOT}" && git ls-files -co --exclude-standard -z | tar -c --null -T - -f - | tar -x -C "${work}" -f - && mkdir "${work}/bin" && cp "${Deno.execPath()}" "${work}/bin/deno"`,
    ]);
    // A private Deno cache for nobody, seeded with the npm packages already fetched.
    const { denoDir } = JSON.parse((await sh([Deno.execPath(), "info", "--json"])).stdout);
    await sh(["mkdir", "-p", `${work}/deno_dir`, `${work}/home`]);
    await sh(["cp", "-r", `${denoDir}/npm`, `${work}/deno_dir/npm`], { allowFail: true });
    await sh(["chown", "-R", `${NOBODY}:${NOBODY}`, `${work}/deno_dir`, `${work}/home`]);
    await sh(["chmod", "-R", "a+rX", work]);
    const started = performance.now();
    const r = await sh([
      "setpriv",
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      "--clear-groups",
      "env",
      "-i",
      "PATH=/usr/bin:/bin",
      `HOME=${work}/home`,
      `DENO_DIR=${work}/deno_dir`,
      "NO_COLOR=1",
      "sh",
      "-c",
      `cd "${work}" && id -u && exec "${work}/bin/deno" task test:unit`,
    ], { allowFail: true });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    assert.match(r.stdout, new RegExp(`^${NOBODY}\n`), "ran as nobody");
    const summary = /ok \| (\d+) passed(?: \(\d+ steps\))? \| 0 failed/.exec(r.stdout);
    assert.strictEqual(r.code, 0, quoted(r.stdout.slice(-3000) + r.stderr.slice(-3000)));
    assert.ok(summary !== null && Number(summary[1]) >= 60, quoted(r.stdout.slice(-500)));
    console.log(`unit tier as nobody: ${summary![1]} passed in ${seconds} s`);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
