/**
 * The directories one cycle writes to, each checked against the safe-path
 * rule (safe_path.ts) once: the first use walks the directory chain, later
 * uses in the same cycle get the checked handle back after a check that it
 * is still that directory ({@link stillSafe}, one `lstat`). By default the
 * status file, the lock files and the key directories share the run
 * directory, which a cycle used to walk up to seven times.
 *
 * @module
 */
import { type SafeDir, safeDir, stillSafe } from "./safe_path.ts";

/** The settings that name a directory the tool writes to. */
export type DirSetting = "keyDir" | "lockDir" | "statusFile" | "metricsFile";

/** One cycle's checked directories, by absolute path. Make a new one for every cycle. */
export class DirChecks {
  readonly #checked = new Map<string, Promise<SafeDir>>();
  readonly #label: (setting: DirSetting) => string;
  #walks = 0;

  /**
   * @param label how messages name a setting: the runner passes the
   *   settings registry's flag; by default the field name itself
   */
  constructor(label: (setting: DirSetting) => string = (setting) => setting) {
    this.#label = label;
  }

  /** How messages name `setting`: as the runner's registry names it, e.g. `status-file`. */
  label(setting: DirSetting): string {
    return this.#label(setting);
  }

  /** How many times a directory chain was walked ({@link safeDir} calls): for tests and tuning. */
  get walks(): number {
    return this.#walks;
  }

  /**
   * The checked directory `dir`: walked on first use, re-checked with
   * {@link stillSafe} on every later one, and walked again when that fails
   * (which then names what is wrong, or makes it again when it was removed).
   *
   * @param setting the setting that names it, for messages
   * @param create the mode of a directory made here (see {@link safeDir})
   * @throws {UnsafePathError} naming the directory and what is wrong; nothing was changed
   */
  async check(
    dir: string,
    setting: DirSetting,
    create: number | null = 0o700,
  ): Promise<SafeDir> {
    const earlier = this.#checked.get(dir);
    if (earlier !== undefined) {
      const safe = await earlier.catch(() => null);
      if (safe !== null && (await stillSafe(safe))) return safe;
    }
    this.#walks++;
    const walked = safeDir(dir, this.#label(setting), create);
    this.#checked.set(dir, walked);
    return await walked;
  }
}
