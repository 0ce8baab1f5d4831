/**
 * Installs the release layout into a test root, as the OpenWrt package lays
 * it out: the private glibc runtime (scripts/release/glibc_runtime.sh) and a Deno
 * runtime standing in for the compiled binary in /usr/lib/wg-reinstate/,
 * the bundle beside them, and the launcher as /usr/bin/wg-reinstate; and the
 * musl-only root they go into. Shared by the musl-only root tests of both
 * architectures.
 *
 * @module
 */
import { sh } from "../harness/sh.ts";
import { bundleTo } from "../../scripts/release/bundle.ts";

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
  const built = await sh(["bash", `${ROOT_DIR}scripts/release/glibc_runtime.sh`, arch, lib]);
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

/**
 * Lays out a musl-only root: a static busybox as /bin/busybox and /bin/sh,
 * and musl's libc as its loader, `/lib/ld-musl-<arch>.so.1`.
 */
export async function makeMuslRoot(
  root: string,
  arch: "x86_64" | "aarch64",
  busybox: string,
  muslLibc: string,
): Promise<void> {
  for (const d of ["bin", "lib", "usr/bin", "usr/lib/wg-reinstate", "proc", "dev", "tmp", "etc"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
  }
  await Deno.copyFile(busybox, `${root}/bin/busybox`);
  await Deno.chmod(`${root}/bin/busybox`, 0o755);
  await Deno.symlink("busybox", `${root}/bin/sh`);
  await Deno.copyFile(muslLibc, `${root}/lib/ld-musl-${arch}.so.1`);
}

/**
 * Gives the root a /proc and the /dev nodes Deno needs; returns what undoes
 * the mount. Call it only once the root is complete.
 */
export async function mountRoot(root: string): Promise<() => Promise<void>> {
  await sh(["mount", "-t", "proc", "proc", `${root}/proc`]);
  await sh(["mknod", "-m", "666", `${root}/dev/null`, "c", "1", "3"]);
  await sh(["mknod", "-m", "666", `${root}/dev/urandom`, "c", "1", "9"]);
  return async () => {
    await sh(["umount", `${root}/proc`], { allowFail: true });
  };
}
