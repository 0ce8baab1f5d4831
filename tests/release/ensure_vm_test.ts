/**
 * The two helpers of scripts/vm/ensure_vm.sh that pick and prepare the kernel
 * the test VM boots. choose_kernel.sh is tested on fake /boot directories.
 * extract_vmlinux.sh is tested on this host's installed plain xz kernel
 * (Debian 12's 6.1, which scripts/dev.sh test has ensure_vm.sh install before
 * the tiers; the test fails without one) and on a zstd bzImage in the layout of
 * Debian's 6.12 kernels, built from that one: its setup bytes, its ELF
 * recompressed with zstd, the uncompressed size, the rest of its file. A zstd
 * kernel in /boot is unpacked too when there is one, but none is needed.
 *
 * Installs nothing and writes only under temporary directories. Needs read
 * access to /boot (root), xz and zstd (Debian package zstd).
 */
import assert from "node:assert/strict";
import { sh, type ShResult } from "../harness/sh.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const VM = `${ROOT}scripts/vm`;

/** One line on stderr starting "ensure_vm:" that names what to do; nothing on stdout. */
function assertActionableError(r: ShResult, action: RegExp): void {
  assert.strictEqual(r.code, 1, r.stdout + r.stderr);
  assert.strictEqual(r.stdout, "");
  assert.match(r.stderr, /^ensure_vm: [^\n]+\n$/);
  assert.match(r.stderr, action);
}

Deno.test("choose_kernel.sh picks the newest plain kernel and says what to do when there is none", async (t) => {
  const cases: {
    name: string;
    kernels: string[];
    /** vmlinuz files whose modules are gone: a half-removed package. */
    withoutModules?: string[];
    kver?: string;
    want: string | RegExp;
  }[] = [
    {
      name: "a plain kernel beside a newer -rt- one",
      kernels: ["6.12.118+deb12-rt-amd64", "6.1.0-57-amd64"],
      want: "6.1.0-57-amd64",
    },
    {
      name: "the newest plain one, in version order, not text order",
      kernels: ["6.1.0-9-amd64", "6.1.0-57-amd64", "6.12.118+deb12-cloud-amd64"],
      want: "6.1.0-57-amd64",
    },
    {
      name: "a plain 6.12 over a plain 6.1",
      kernels: ["6.1.0-57-amd64", "6.12.118+deb12-amd64", "6.12.118+deb12-rt-amd64"],
      want: "6.12.118+deb12-amd64",
    },
    {
      name: "WG_VM_KVER names an -rt- kernel",
      kernels: ["6.1.0-57-amd64", "6.12.118+deb12-rt-amd64"],
      kver: "6.12.118+deb12-rt-amd64",
      want: "6.12.118+deb12-rt-amd64",
    },
    {
      name: "only -rt- and -cloud- kernels: install linux-image-amd64",
      kernels: ["6.12.118+deb12-rt-amd64", "6.1.0-57-cloud-amd64"],
      want:
        /no plain .*installed: \[6\.1\.0-57-cloud-amd64 6\.12\.118\+deb12-rt-amd64\].*: apt-get install linux-image-amd64, or set WG_VM_KVER to an installed kernel$/m,
    },
    {
      name: "a plain kernel without its modules does not count",
      kernels: ["6.12.118+deb12-rt-amd64"],
      withoutModules: ["6.1.0-57-amd64"],
      want: /apt-get install linux-image-amd64, or set WG_VM_KVER/,
    },
    {
      name: "no kernel at all",
      kernels: [],
      want: /installed: \[none\].*apt-get install linux-image-amd64/,
    },
    {
      name: "WG_VM_KVER names a kernel that is not installed",
      kernels: ["6.1.0-57-amd64"],
      kver: "6.1.0-9-amd64",
      want:
        /WG_VM_KVER=6\.1\.0-9-amd64 is not installed .*: set it to one of \[6\.1\.0-57-amd64\], or unset it$/m,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const dir = await Deno.makeTempDir({ prefix: "wr-choose-kernel-" });
      try {
        await Deno.mkdir(`${dir}/boot`);
        for (const k of [...c.kernels, ...c.withoutModules ?? []]) {
          await Deno.writeTextFile(`${dir}/boot/vmlinuz-${k}`, "");
        }
        for (const k of c.kernels) {
          await Deno.mkdir(`${dir}/modules/${k}`, { recursive: true });
          await Deno.writeTextFile(`${dir}/modules/${k}/modules.dep`, "");
        }
        const r = await sh(
          ["bash", `${VM}/choose_kernel.sh`, `${dir}/boot`, `${dir}/modules`],
          { allowFail: true, env: { WG_VM_KVER: c.kver ?? "" } },
        );
        if (typeof c.want === "string") {
          assert.strictEqual(r.code, 0, r.stderr);
          assert.strictEqual(r.stdout, `${c.want}\n`);
        } else {
          assertActionableError(r, c.want);
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

/** What a bzImage's boot-protocol header says about the compressed kernel in it. */
interface Payload {
  format: "xz" | "zstd" | "other";
  /** Where the compressed stream starts in the file. */
  offset: number;
  /** The stream's length with the 4 size bytes after it (header field payload_length). */
  length: number;
  /** The uncompressed size, which the kernel build appends after the stream. */
  size: number;
}

const PAYLOAD_LENGTH = 0x24c;

function payloadOf(image: Uint8Array, name: string): Payload {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  assert.strictEqual(v.getUint32(0x202, true), 0x53726448, `${name}: no bzImage "HdrS" header`);
  const setupSectors = image[0x1f1] || 4;
  const offset = (setupSectors + 1) * 512 + v.getUint32(0x248, true);
  const length = v.getUint32(PAYLOAD_LENGTH, true);
  const magic = [...image.subarray(offset, offset + 6)]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  return {
    format: magic === "fd377a585a00" ? "xz" : magic.startsWith("28b52ffd") ? "zstd" : "other",
    offset,
    length,
    size: v.getUint32(offset + length - 4, true),
  };
}

interface Kernel {
  kver: string;
  path: string;
  image: Uint8Array;
  payload: Payload;
}

/** Every /boot/vmlinuz-*-amd64, oldest version first. */
async function bootKernels(): Promise<Kernel[]> {
  const kernels: Kernel[] = [];
  for await (const e of Deno.readDir("/boot")) {
    const m = e.name.match(/^vmlinuz-(.+-amd64)$/);
    if (!m) continue;
    const path = `/boot/${e.name}`;
    const image = await Deno.readFile(path);
    kernels.push({ kver: m[1], path, image, payload: payloadOf(image, path) });
  }
  return kernels.sort((a, b) => a.kver.localeCompare(b.kver, "en", { numeric: true }));
}

/**
 * The bzImage a zstd kernel build would make of `xz`'s contents: `xz`'s bytes
 * up to its stream (setup code, decompressor head), `stream`, the
 * little-endian uncompressed `size`, then `xz`'s bytes after its stream, with
 * payload_length in the header updated. Not bootable (the decompressor is
 * xz's and its addresses are off), but laid out like a real one.
 */
function zstdBzImage(xz: Kernel, stream: Uint8Array, size: number): Uint8Array {
  const { offset, length } = xz.payload;
  const tail = xz.image.subarray(offset + length);
  const image = new Uint8Array(offset + stream.length + 4 + tail.length);
  image.set(xz.image.subarray(0, offset));
  image.set(stream, offset);
  const v = new DataView(image.buffer);
  v.setUint32(offset + stream.length, size, true);
  image.set(tail, offset + stream.length + 4);
  v.setUint32(PAYLOAD_LENGTH, stream.length + 4, true);
  return image;
}

interface Material {
  /** The newest plain-flavour xz kernel in /boot. */
  xz: Kernel;
  /** extract_vmlinux.sh run on it. */
  unpacked: ShResult;
  /** What that wrote. */
  elf: Uint8Array;
  /** A zstd bzImage holding `elf` (see zstdBzImage). */
  zstd: Uint8Array;
  /** Every /boot kernel with a zstd stream, if any. */
  realZstd: Kernel[];
}

/**
 * Reads /boot and unpacks its plain xz kernel once per run: each test writes
 * what it needs into its own temporary directory.
 */
let material: Promise<Material> | undefined;
function getMaterial(): Promise<Material> {
  material ??= (async () => {
    const kernels = await bootKernels();
    const list = kernels.map((k) => `${k.kver}: ${k.payload.format}`).join(", ") || "none";
    const xz = kernels.filter((k) =>
      !/-(rt|cloud)-amd64$/.test(k.kver) && k.payload.format === "xz"
    ).at(-1);
    assert.ok(
      xz,
      `no plain-flavour xz-compressed kernel in /boot ([${list}]): on Debian 12, apt-get install ` +
        "linux-image-amd64 (scripts/dev.sh test has scripts/vm/ensure_vm.sh install it first)",
    );
    const hasZstd = await sh(["bash", "-c", "command -v zstd"], { allowFail: true });
    assert.strictEqual(hasZstd.code, 0, "no zstd command: apt-get install zstd");
    const dir = await Deno.makeTempDir({ prefix: "wr-vmlinux-" });
    try {
      const unpacked = await sh(["bash", `${VM}/extract_vmlinux.sh`, xz.path, `${dir}/vmlinux`], {
        allowFail: true,
      });
      assert.strictEqual(unpacked.code, 0, `extract_vmlinux.sh ${xz.path}: ${unpacked.stderr}`);
      const elf = await Deno.readFile(`${dir}/vmlinux`);
      await sh(["zstd", "-q", "-o", `${dir}/vmlinux.zst`, `${dir}/vmlinux`]);
      const stream = await Deno.readFile(`${dir}/vmlinux.zst`);
      return {
        xz,
        unpacked,
        elf,
        zstd: zstdBzImage(xz, stream, elf.length),
        realZstd: kernels.filter((k) => k.payload.format === "zstd"),
      };
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  })();
  return material;
}

/** Asserts `elf` is a whole x86-64 ELF file: every segment and header inside it. */
function assertElfKernel(elf: Uint8Array): void {
  const v = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  assert.deepStrictEqual([...elf.subarray(0, 6)], [0x7f, 0x45, 0x4c, 0x46, 2, 1], "64-bit LE ELF");
  assert.strictEqual(v.getUint16(18, true), 62, "x86-64");
  const shEnd = Number(v.getBigUint64(40, true)) + v.getUint16(58, true) * v.getUint16(60, true);
  assert.ok(shEnd <= elf.length, `section headers end at ${shEnd}, past ${elf.length}`);
  const ph = Number(v.getBigUint64(32, true));
  let loads = 0;
  for (let i = 0; i < v.getUint16(56, true); i++) {
    const at = ph + i * v.getUint16(54, true);
    if (v.getUint32(at, true) !== 1) continue; // PT_LOAD
    loads++;
    const end = Number(v.getBigUint64(at + 8, true) + v.getBigUint64(at + 32, true));
    assert.ok(end <= elf.length, `segment ${i} ends at ${end}, past ${elf.length}`);
  }
  assert.ok(loads > 0, "no PT_LOAD segment");
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const c = new Uint8Array(a.length + b.length);
  c.set(a);
  c.set(b, a.length);
  return c;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

Deno.test("extract_vmlinux.sh unpacks xz and zstd bzImages to the whole ELF their header announces", async (t) => {
  const m = await getMaterial();
  const dir = await Deno.makeTempDir({ prefix: "wr-vmlinux-" });
  const cases: { name: string; image: Uint8Array; path?: string; same?: Uint8Array }[] = [
    { name: `${m.xz.kver}, installed`, image: m.xz.image, path: m.xz.path },
    { name: `a zstd bzImage of ${m.xz.kver}'s ELF`, image: m.zstd, same: m.elf },
    ...m.realZstd.map((k) => ({ name: `${k.kver}, installed`, image: k.image, path: k.path })),
  ];
  try {
    for (const [i, c] of cases.entries()) {
      const payload = payloadOf(c.image, c.name);
      await t.step(`${c.name} (${payload.format})`, async () => {
        assert.notStrictEqual(payload.format, "other", "neither an xz nor a zstd stream");
        // getMaterial() has unpacked the installed xz kernel already.
        let r = m.unpacked;
        let elf = m.elf;
        if (c.path !== m.xz.path) {
          const input = c.path ?? `${dir}/image${i}`;
          if (!c.path) await Deno.writeFile(input, c.image);
          r = await sh(["bash", `${VM}/extract_vmlinux.sh`, input, `${dir}/out${i}`], {
            allowFail: true,
          });
          assert.strictEqual(r.code, 0, r.stderr);
          elf = await Deno.readFile(`${dir}/out${i}`);
          await Deno.remove(`${dir}/out${i}`);
        }
        assert.strictEqual(r.stdout, `${payload.format} ${payload.offset}\n`);
        // The ELF is followed by the kernel's relocations: the whole stream
        // decompressed has exactly the size the build appended after it.
        assertElfKernel(elf);
        assert.strictEqual(elf.length, payload.size);
        if (c.same) assert.ok(sameBytes(elf, c.same), "not the ELF that went in");
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("extract_vmlinux.sh skips chance magic and refuses what holds no whole kernel, saying what to do", async (t) => {
  const m = await getMaterial();
  const zstd = payloadOf(m.zstd, "the zstd bzImage");
  const dir = await Deno.makeTempDir({ prefix: "wr-vmlinux-bad-" });
  try {
    // PATH with everything extract_vmlinux.sh runs except zstd.
    const noZstd = `${dir}/bin`;
    await Deno.mkdir(noZstd);
    for (const tool of ["od", "tr", "stat", "grep", "cut", "sed", "sort", "tail", "rm", "xz"]) {
      const found = (await sh(["bash", "-c", `command -v ${tool}`])).stdout.trim();
      await Deno.symlink(found, `${noZstd}/${tool}`);
    }
    // Both magics, each followed by junk, ahead of the real stream.
    const chance = Uint8Array.from(
      "fd377a585a00 0102 28b52ffd 03".replaceAll(" ", "").match(/../g) ?? [],
      (h) => parseInt(h, 16),
    );
    const cases: {
      name: string;
      image?: Uint8Array;
      path?: string;
      env?: Record<string, string>;
      want: string | RegExp;
    }[] = [
      {
        name: "a bogus xz and zstd magic ahead of the real stream",
        image: concat(chance, m.zstd),
        want: `zstd ${chance.length + zstd.offset}\n`,
      },
      {
        name: "a zstd kernel cut off mid-stream (zstd writes a partial ELF)",
        image: m.zstd.subarray(0, m.zstd.length >> 1),
        want:
          /no xz- or zstd-compressed ELF kernel inside .*: .*apt-get install --reinstall its package, or set WG_VM_KVER/,
      },
      {
        name: "an xz kernel cut off mid-stream",
        image: m.xz.image.subarray(0, m.xz.image.length >> 1),
        want: /no xz- or zstd-compressed ELF kernel inside /,
      },
      {
        name: "an empty file",
        image: new Uint8Array(),
        want: /no xz- or zstd-compressed ELF kernel/,
      },
      {
        name: "a missing file",
        path: `${dir}/nothing-here`,
        want:
          /cannot read .*nothing-here: run as root, or set WG_VM_KVER to another installed kernel$/m,
      },
      {
        name: "a zstd kernel on a host without zstd",
        image: m.zstd,
        env: { PATH: noZstd },
        want:
          /no ELF kernel found inside .* with the decompressors installed: apt-get install zstd$/m,
      },
    ];
    for (const [i, c] of cases.entries()) {
      await t.step(c.name, async () => {
        const input = c.path ?? `${dir}/image${i}`;
        if (c.image) await Deno.writeFile(input, c.image);
        const out = `${dir}/out${i}`;
        const r = await sh(["/bin/bash", `${VM}/extract_vmlinux.sh`, input, out], {
          allowFail: true,
          env: c.env,
        });
        if (typeof c.want === "string") {
          assert.strictEqual(r.code, 0, r.stderr);
          assert.strictEqual(r.stdout, c.want);
          const elf = await Deno.readFile(out);
          assertElfKernel(elf);
          assert.strictEqual(elf.length, zstd.size);
        } else {
          assertActionableError(r, c.want);
          await assert.rejects(Deno.stat(out), Deno.errors.NotFound, "no output left behind");
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
