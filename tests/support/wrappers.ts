/**
 * Shell wrappers around the real `wg`, for faults that real `wg` cannot be
 * made to produce. Each wrapper's own comment says whether it is a FAKE
 * (changes what wg does) or only slows or observes the real one.
 *
 * @module
 */
import { sh } from "../harness/sh.ts";

/** The path of the real `wg`. */
export async function realWg(): Promise<string> {
  return (await sh(["sh", "-c", "command -v wg"])).stdout.trim();
}

/**
 * Writes `body` as an executable `wg` in a fresh directory and calls `fn`
 * with its path and directory. In `body`, `@WG@` is the real wg and `@DIR@`
 * the directory (for state files).
 */
export async function withWrapper<T>(
  body: string,
  fn: (path: string, dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "wr-wrapper-" });
  try {
    const path = `${dir}/wg`;
    await Deno.writeTextFile(
      path,
      body.replaceAll("@DIR@", dir).replaceAll(
        "@WG@",
        // Only a wrapper around the real wg needs one installed.
        body.includes("@WG@") ? await realWg() : "",
      ),
      { mode: 0o755 },
    );
    return await fn(path, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Waits until `path` exists. */
export async function waitForFile(path: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await Deno.stat(path).then(() => true, () => false)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${path}`);
}
