/**
 * Installs the release layout into a test root, as the OpenWrt package lays
 * it out: the private glibc runtime (scripts/glibc_runtime.sh) and a Deno
 * runtime standing in for the compiled binary in /usr/lib/wg-reinstate/,
 * the bundle beside them, and the launcher as /usr/bin/wg-reinstate. Shared
 * by the musl-only root tests of both architectures.
 *
 * @module
 */
import { sh } from "../../scripts/lab/sh.ts";
import { bundleTo } from "../../scripts/bundle.ts";

const ROOT_DIR = new URL("../../", import.meta.url).pathname;

/** Installs the runtime for `arch`, `deno` as the program, the bundle and the launcher. */
export async function installRelease(
  root: string,
  arch: "x86_64" | "aarch64",
  deno: string,
): Promise<void> {
  const lib = `${root}/usr/lib/wg-reinstate`;
  await Deno.mkdir(lib, { recursive: true });
  await Deno.mkdir(`${root}/usr/bin`, { recursive: true });
  const built = await sh(["bash", `${ROOT_DIR}scripts/glibc_runtime.sh`, arch, lib]);
  console.log(built.stdout.trim());
  await Deno.copyFile(deno, `${lib}/wg-reinstate`);
  await Deno.chmod(`${lib}/wg-reinstate`, 0o755);
  await bundleTo(`${lib}/bundle`);
  await Deno.copyFile(
    `${ROOT_DIR}openwrt/files/wg-reinstate.launcher`,
    `${root}/usr/bin/wg-reinstate`,
  );
  await Deno.chmod(`${root}/usr/bin/wg-reinstate`, 0o755);
}
