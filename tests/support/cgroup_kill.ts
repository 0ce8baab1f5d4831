/**
 * Kills a command and every process it started, at once, whatever their
 * process group or session: what a cgroup kill does (systemd ending a unit
 * with KillMode=control-group after its stop timeout, the OOM killer with
 * memory.oom.group). A `kill -9 -PGID` misses children started `detached`
 * (`setsid`), and walking /proc for descendants races with a fork; a cgroup
 * does neither.
 *
 * The command is put into a fresh cgroup before it runs (a shell writes its
 * own pid to `cgroup.procs`, then execs it), so all it starts is in the
 * cgroup too. Two ways to kill the cgroup, chosen by what the kernel has:
 *
 * - `cgroup2`: `cgroup.kill` (Linux 5.14 and later) SIGKILLs every process
 *   of the cgroup in one write. The first cgroup2 mount is used (the host's
 *   /sys/fs/cgroup/unified on a hybrid host, /sys/fs/cgroup elsewhere and in
 *   the test VM); where none is mounted, one is mounted for the group in a
 *   temporary directory and unmounted with it.
 * - `freezer`: the v1 freezer, for older kernels: the cgroup is frozen (no
 *   process runs or forks), every process in it is sent SIGKILL, then it is
 *   thawed and they die.
 *
 * @module
 */
import { cliCommand, type CliOptions } from "../harness/cli.ts";
import { sh } from "../harness/sh.ts";

/** How a {@link KillGroup} kills its processes. */
export type KillMechanism = "cgroup2" | "freezer";

interface Mount {
  /** Where the hierarchy is mounted. */
  path: string;
  /** True when this module mounted it (and so unmounts it). */
  ours: boolean;
}

/** Mount points of `fstype` (with `option` among the super options), from /proc/self/mountinfo. */
function mountsOf(fstype: string, option?: string): string[] {
  const found: string[] = [];
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const [left, right] = line.split(" - ");
    if (right === undefined) continue;
    const [type, , superOptions] = right.split(" ");
    if (type !== fstype) continue;
    if (option !== undefined && !superOptions.split(",").includes(option)) continue;
    // mountinfo escapes spaces and the like as \ooo.
    found.push(
      left.split(" ")[4].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))),
    );
  }
  return found;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** A mounted hierarchy for `mechanism`: the first existing one, else one of our own. */
async function hierarchy(mechanism: KillMechanism): Promise<Mount> {
  const existing = mechanism === "cgroup2" ? mountsOf("cgroup2") : mountsOf("cgroup", "freezer");
  if (existing.length > 0) return { path: existing[0], ours: false };
  const path = await Deno.makeTempDir({ prefix: "wr-cgroup-" });
  const args = mechanism === "cgroup2"
    ? ["mount", "-t", "cgroup2", "none", path]
    : ["mount", "-t", "cgroup", "-o", "freezer", "none", path];
  const r = await sh(args, { allowFail: true });
  if (r.code !== 0) {
    await Deno.remove(path);
    throw new Error(`cannot mount a ${mechanism} hierarchy: ${r.stderr.trim()}`);
  }
  return { path, ours: true };
}

/** Waits until `check` holds, or throws naming `what`. */
export async function waitUntil(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A fresh cgroup whose processes can all be killed at once. */
export class KillGroup {
  #removed = false;

  private constructor(
    /** The cgroup's directory. */
    readonly path: string,
    readonly mechanism: KillMechanism,
    private readonly mount: Mount,
  ) {}

  /**
   * Makes a cgroup: with `cgroup.kill` where the kernel has it, else with the
   * v1 freezer; or with the `mechanism` asked for.
   */
  static async create(mechanism?: KillMechanism): Promise<KillGroup> {
    const tried: string[] = [];
    for (const m of mechanism ? [mechanism] : (["cgroup2", "freezer"] as const)) {
      let mount: Mount | null = null;
      try {
        mount = await hierarchy(m);
        const path = `${mount.path}/wr-kill-${crypto.randomUUID().slice(0, 8)}`;
        await Deno.mkdir(path);
        const group = new KillGroup(path, m, mount);
        const needs = m === "cgroup2" ? "cgroup.kill" : "freezer.state";
        if (await exists(`${path}/${needs}`)) return group;
        await group.remove();
        tried.push(`${m}: no ${needs} (kernel ${Deno.osRelease()})`);
      } catch (error) {
        if (mount?.ours) await unmount(mount);
        tried.push(`${m}: ${error instanceof Error ? error.message : error}`);
      }
    }
    throw new Error(`no way to kill a cgroup here: ${tried.join("; ")}`);
  }

  /** `cmd` prefixed so that it joins this cgroup before it runs (its pid stays the same). */
  wrap(cmd: readonly string[]): string[] {
    return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', `${this.path}/cgroup.procs`, ...cmd];
  }

  /** The processes in the cgroup now. */
  async pids(): Promise<number[]> {
    const text = await Deno.readTextFile(`${this.path}/cgroup.procs`);
    return text.split("\n").filter((l) => l !== "").map(Number);
  }

  /**
   * SIGKILLs every process in the cgroup at once and waits until none is
   * left. Returns the names (`comm`) of the processes it killed, as listed
   * just before the kill (with the freezer, while frozen).
   */
  async killAll(): Promise<string[]> {
    let killed: string[];
    if (this.mechanism === "cgroup2") {
      killed = await names(await this.pids());
      await Deno.writeTextFile(`${this.path}/cgroup.kill`, "1");
    } else {
      const state = `${this.path}/freezer.state`;
      await Deno.writeTextFile(state, "FROZEN");
      await waitUntil(
        async () => (await Deno.readTextFile(state)).trim() === "FROZEN",
        `${this.path} to freeze`,
      );
      const pids = await this.pids();
      killed = await names(pids);
      for (const pid of pids) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* already gone */ }
      }
      await Deno.writeTextFile(state, "THAWED");
    }
    await waitUntil(async () => (await this.pids()).length === 0, `${this.path} to empty`);
    return killed;
  }

  /** Kills what is left in the cgroup, removes it, and unmounts a hierarchy of our own. */
  async remove(): Promise<void> {
    if (this.#removed) return;
    if (await exists(this.path)) {
      if ((await this.pids()).length > 0) await this.killAll();
      await Deno.remove(this.path);
    }
    this.#removed = true;
    if (this.mount.ours) await unmount(this.mount);
  }
}

/** The `comm` of each process (`?` for one already gone). */
export function names(pids: readonly number[]): Promise<string[]> {
  return Promise.all(
    pids.map((pid) => Deno.readTextFile(`/proc/${pid}/comm`).then((t) => t.trim(), () => "?")),
  );
}

async function unmount(mount: Mount): Promise<void> {
  await sh(["umount", mount.path], { allowFail: true });
  await Deno.remove(mount.path).catch(() => {});
}

/** A CLI process (see {@link cliCommand}) in a cgroup of its own. */
export class KillableCli {
  #output: Promise<[string, string]>;
  #stdout = "";
  #stderr = "";

  private constructor(
    readonly group: KillGroup,
    readonly child: Deno.ChildProcess,
  ) {
    const decode = async (stream: ReadableStream<Uint8Array>, add: (t: string) => void) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) add(text);
    };
    this.#output = Promise.all([
      decode(child.stdout, (t) => (this.#stdout += t)).then(() => this.#stdout),
      decode(child.stderr, (t) => (this.#stderr += t)).then(() => this.#stderr),
    ]);
  }

  /** Starts the CLI with `args` in a new cgroup. */
  static async start(
    args: readonly string[],
    options: CliOptions = {},
    mechanism?: KillMechanism,
  ): Promise<KillableCli> {
    const group = await KillGroup.create(mechanism);
    try {
      const { cmd, env } = cliCommand(args, options);
      const wrapped = group.wrap(cmd);
      const child = new Deno.Command(wrapped[0], {
        args: wrapped.slice(1),
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      return new KillableCli(group, child);
    } catch (error) {
      await group.remove();
      throw error;
    }
  }

  /** Everything the CLI wrote so far: stderr, then stdout. */
  get log(): string {
    return this.#stderr + this.#stdout;
  }

  /**
   * SIGKILLs the CLI and everything it started, at once; waits for the CLI's
   * exit and removes the cgroup. Returns the names of the processes killed
   * (none when the CLI had already finished) and the CLI's exit status.
   */
  async kill(): Promise<{ killed: string[]; status: Deno.CommandStatus }> {
    const killed = await this.group.killAll();
    const status = await this.wait();
    return { killed, status };
  }

  /** Waits for the CLI to end on its own, reads its output, and removes the cgroup. */
  async wait(): Promise<Deno.CommandStatus> {
    const [status] = await Promise.all([this.child.status, this.#output]);
    await this.group.remove();
    return status;
  }
}
