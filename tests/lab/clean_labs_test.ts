/**
 * tests/harness/clean_labs.sh ends a left-over lab's processes by pid, found
 * through the lab's namespace, and leaves alike-looking processes elsewhere.
 */
import assert from "node:assert/strict";
import { sh } from "../harness/sh.ts";

const SCRIPT = new URL("../../tests/harness/clean_labs.sh", import.meta.url).pathname;

const alive = async (pid: number) =>
  (await sh(["kill", "-0", String(pid)], { allowFail: true })).code === 0;

Deno.test("clean_labs ends processes in lab namespaces by pid and nothing outside", async () => {
  const prefix = `wr-clean-${crypto.randomUUID().slice(0, 6)}-`;
  const ns = `${prefix}a`;
  await sh(["ip", "netns", "add", ns]);
  // The same command line inside the lab and outside: only the inside one may end.
  const inside = new Deno.Command("ip", { args: ["netns", "exec", ns, "sleep", "300"] }).spawn();
  const outside = new Deno.Command("sleep", { args: ["300"] }).spawn();
  try {
    let pids = "";
    for (let i = 0; i < 50 && pids === ""; i++) {
      pids = (await sh(["ip", "netns", "pids", ns])).stdout.trim();
      if (pids === "") await new Promise((r) => setTimeout(r, 20));
    }
    assert.strictEqual(pids, String(inside.pid));
    const r = await sh(["bash", SCRIPT, prefix]);
    assert.strictEqual(r.code, 0);
    assert.strictEqual((await inside.status).signal, "SIGTERM");
    assert.ok(await alive(outside.pid), "a process outside the lab is left alone");
    assert.ok(!(await sh(["ip", "netns", "list"])).stdout.includes(ns), "namespace removed");
  } finally {
    outside.kill("SIGTERM");
    await outside.status;
    if (await alive(inside.pid)) inside.kill("SIGKILL");
    await inside.status;
    await sh(["ip", "netns", "del", ns], { allowFail: true });
  }
});
