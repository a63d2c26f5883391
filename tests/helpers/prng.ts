/** Seeded randomness for fuzz and crash tests: the same seed gives the same run on every machine. */

/** mulberry32: small, fast, and the same sequence for the same seed on every machine; numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Integer and pick helpers over a seeded source. */
export function chooser(random: () => number) {
  const int = (n: number): number => Math.floor(random() * n);
  return { int, pick: <T>(items: readonly T[]): T => items[int(items.length)] as T };
}
