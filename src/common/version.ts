/**
 * The program version, read from deno.json so it is set in one place.
 *
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };

/** The wg-reinstate version, e.g. `0.1.0`. */
export const VERSION: string = denoJson.version;
