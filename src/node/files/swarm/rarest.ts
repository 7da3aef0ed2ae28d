// Bit-level picks for the scheduler: which chunks are still wanted, and the rarest of them a peer has.

import { Bitfield } from "../../../model/bitfield";

/** Chunks not on disk (`have`) and in none of `taken` (being written, being fetched). */
export function wantedChunks(have: Bitfield, ...taken: Iterable<number>[]): Bitfield {
  const wanted = new Bitfield(have.size);
  for (let at = 0; at < have.bytes.length; at++) wanted.bytes[at] = ~have.bytes[at]! & 0xff;
  const spare = wanted.bytes.length * 8 - have.size; // bits past the last chunk stay clear
  if (spare > 0) wanted.bytes[wanted.bytes.length - 1] = wanted.bytes[wanted.bytes.length - 1]! & (0xff >> spare);
  for (const indices of taken) for (const index of indices) wanted.clear(index);
  return wanted;
}

/**
 * Of the chunks in `wanted` that `theirs` has (null: every chunk), the one with the lowest
 * `rarity`, random among equals (every one equal when `rarity` is null).
 */
export function rarestOf(wanted: Bitfield, theirs: Bitfield | null, rarity: Uint16Array | null, random: () => number): number | undefined {
  const mine = wanted.bytes;
  const their = theirs?.bytes;
  let best: number | undefined;
  let bestRarity = Number.POSITIVE_INFINITY;
  let ties = 0;
  // A byte at a time: in a large swarm most peers have nothing wanted that is not already asked of another.
  for (let at = 0; at < mine.length; at++) {
    const both = their === undefined ? mine[at]! : mine[at]! & their[at]!;
    if (both === 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      if ((both & (1 << bit)) === 0) continue;
      const index = at * 8 + bit;
      if (index >= wanted.size) break;
      const value = rarity === null ? 0 : rarity[index]!;
      if (value < bestRarity) {
        best = index;
        bestRarity = value;
        ties = 1;
      } else if (value === bestRarity && random() * ++ties < 1) {
        best = index; // reservoir sampling: each equally rare chunk with the same chance
      }
    }
  }
  return best;
}
