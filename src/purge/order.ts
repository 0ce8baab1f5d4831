/**
 * The order in which a purge hands its peers to `wg`. The kernel re-adds a
 * removed peer at the end of its list (`wg show dump`, `showconf`), so a
 * purge in the order read would leave the list sorted by when each user went
 * idle. In random order, the list tells only which cycle purged a peer, not
 * who went idle before whom within it.
 *
 * @module
 */

/** A uniform random integer in `[0, n)`, from the system's secure generator. */
function secureIndex(n: number): number {
  // Rejection sampling: no bias toward small values.
  const limit = Math.floor(0x1_0000_0000 / n) * n;
  const word = new Uint32Array(1);
  do crypto.getRandomValues(word); while (word[0] >= limit);
  return word[0] % n;
}

/**
 * A copy of `items` in random order (Fisher–Yates).
 *
 * @param index a uniform random integer in `[0, n)`; default the system's secure generator
 */
export function shuffled<T>(
  items: readonly T[],
  index: (n: number) => number = secureIndex,
): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = index(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
