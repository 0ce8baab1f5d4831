/**
 * Runs a command to completion and collects its output: the one way the lab,
 * the scripts and the tests start helper commands.
 *
 * @module
 */

const decoder = new TextDecoder();

/** Result of a finished command. */
export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; throws on a non-zero exit unless `allowFail`. */
export async function sh(
  cmd: readonly string[],
  { stdin, allowFail = false, env }: {
    stdin?: string;
    allowFail?: boolean;
    env?: Record<string, string>;
  } = {},
): Promise<ShResult> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const result = {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
  if (result.code !== 0 && !allowFail) {
    throw new Error(`${cmd.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
  }
  return result;
}
