/**
 * Imports point inward: common ← wg ← purge ← config ← record ← cli ← commands ← main. Each
 * `src/` folder is one layer and may import only its own layer and the ones
 * inside it; the purge layer is reached through its entry, purge/mod.ts.
 * Scripts never import tests, and the program imports neither.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Layers from the innermost out; `main.ts` is the outermost. */
const LAYERS = [
  "common",
  "wg",
  "purge",
  "config",
  "record",
  "cli",
  "commands",
  "main",
] as const;

function layerOf(path: string): number {
  const rel = path.slice(`${ROOT}src/`.length);
  const folder = rel.includes("/") ? rel.split("/")[0] : rel.replace(/\.ts$/, "");
  const index = LAYERS.indexOf(folder as typeof LAYERS[number]);
  if (index < 0) throw new Error(`src/${rel} is in no layer; add its folder to LAYERS`);
  return index;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...tsFiles(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/** The relative imports of a file, resolved to absolute paths. */
function importsOf(file: string): string[] {
  // Comments may quote an import; only code counts.
  const text = Deno.readTextFileSync(file).replace(/\/\*[\s\S]*?\*\//g, "").replace(
    /^\s*\/\/.*$/gm,
    "",
  );
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => m[1]);
  return specs.map((spec) => new URL(spec, `file://${file}`).pathname);
}

Deno.test("src imports point inward, from each layer to its own or inner ones", () => {
  const outward: string[] = [];
  for (const file of tsFiles(`${ROOT}src`)) {
    for (const target of importsOf(file)) {
      if (target === `${ROOT}deno.json`) continue; // the version, read from one place
      if (!target.startsWith(`${ROOT}src/`)) {
        outward.push(`${file} -> ${target} (outside src/)`);
      } else if (layerOf(target) > layerOf(file)) {
        outward.push(`${file.slice(ROOT.length)} -> ${target.slice(ROOT.length)}`);
      }
    }
  }
  assert.deepStrictEqual(outward, []);
});

Deno.test("src outside the purge layer imports it only through purge/mod.ts", () => {
  const entry = `${ROOT}src/purge/mod.ts`;
  const inside = (path: string) => path.startsWith(`${ROOT}src/purge/`);
  const bypassing: string[] = [];
  for (const file of tsFiles(`${ROOT}src`).filter((f) => !inside(f))) {
    for (const target of importsOf(file).filter((t) => inside(t) && t !== entry)) {
      bypassing.push(`${file.slice(ROOT.length)} -> ${target.slice(ROOT.length)}`);
    }
  }
  assert.deepStrictEqual(bypassing, []);
});

Deno.test("src has no import cycles", () => {
  const graph = new Map(tsFiles(`${ROOT}src`).map((f) => [f, importsOf(f)]));
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "open") {
      cycles.push(
        [...path.slice(path.indexOf(file)), file].map((f) => f.slice(ROOT.length)).join(" -> "),
      );
      return;
    }
    state.set(file, "open");
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, "done");
  };
  for (const file of graph.keys()) visit(file, []);
  assert.deepStrictEqual(cycles, []);
});

Deno.test("scripts import of tests only the harness, and the layer check sees a planted outward import", () => {
  // The demo and the benchmark drive the same lab as the tests; nothing else.
  const outside = (t: string) =>
    t.startsWith(`${ROOT}tests/`) && !t.startsWith(`${ROOT}tests/harness/`);
  const bad = tsFiles(`${ROOT}scripts`).flatMap((file) =>
    importsOf(file).filter(outside).map((t) => `${file} -> ${t}`)
  );
  assert.deepStrictEqual(bad, []);
  // The check itself: a wg module importing the purge layer is outward.
  assert.ok(layerOf(`${ROOT}src/purge/plan.ts`) > layerOf(`${ROOT}src/wg/dump.ts`));
  assert.throws(() => layerOf(`${ROOT}src/misc/x.ts`), /in no layer/);
});
