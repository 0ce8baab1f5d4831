/**
 * What /proc says of the processes a test started.
 *
 * @module
 */

/** Whether `pid` is still a live process (a zombie is not). */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}
