/**
 * Writing a whole text to a synchronous writer (stdout, stderr). `writeSync`
 * may write fewer bytes than asked, so the rest is written until none is left.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Something with a synchronous, possibly partial, write: `Deno.stdout`, `Deno.stderr`. */
export interface SyncWriter {
  writeSync(bytes: Uint8Array): number;
}

/** Writes all of `text` as UTF-8 to `writer`. */
export function writeAllSync(writer: SyncWriter, text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) offset += writer.writeSync(bytes.subarray(offset));
}
