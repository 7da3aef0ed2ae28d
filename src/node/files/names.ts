// Shared names: the ring keys a name and its words are stored under, and `name@id` references.

import { ringId, type RingId } from "../../model/id";

/** Most words of one name indexed for search; the rest are found by the list fallback. */
export const MAX_INDEXED_WORDS = 16;

/** The ring key of a name's record: every holder of a file with this name announces under it. */
export function nameKey(name: string): RingId {
  return ringId(`name:${name}`);
}

/** The ring key of one search word. */
export function wordKey(word: string): RingId {
  return ringId(`word:${word}`);
}

/** Text as search compares it: lowercase, accents dropped ("Ünïcödé" → "unicode"). */
export function foldText(text: string): string {
  return text.normalize("NFKD").replace(/\p{M}+/gu, "").toLowerCase();
}

/**
 * The words a name is announced under, at most MAX_INDEXED_WORDS: its words, then the runs of letters and of
 * digits inside a word that mixes them ("same1" also under "same", "2024report" under "report" and "2024"), so a
 * search for the word a name was numbered after finds it with a lookup. Runs of one character are left out.
 */
export function indexedWordsOf(name: string): string[] {
  const words = wordsOf(name);
  const runs = words.flatMap((word) => (word.match(/\p{L}+|\p{N}+/gu) ?? []).filter((run) => run.length > 1 && run !== word));
  return [...new Set([...words, ...runs])].slice(0, MAX_INDEXED_WORDS);
}

/** The folded words of a name: letters and digits of any script, split on everything else. */
export function wordsOf(text: string): string[] {
  const words = foldText(text).split(/[^\p{L}\p{N}]+/u).filter((word) => word.length > 0);
  return [...new Set(words)];
}

/** `report.pdf@3fa2` → the name and a file-id prefix that picks one of several files of that name. */
export function parseNameRef(ref: string): { name: string; idPrefix: string | null } {
  const at = ref.lastIndexOf("@");
  if (at > 0 && /^[0-9a-f]{4,64}$/i.test(ref.slice(at + 1))) {
    return { name: ref.slice(0, at), idPrefix: ref.slice(at + 1).toLowerCase() };
  }
  return { name: ref, idPrefix: null };
}
