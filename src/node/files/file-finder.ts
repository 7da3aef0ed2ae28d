// Finding files in the ring: the list of every file, a search by words, and the one file a name (or name@id) leads to now.

import { P2PError, isP2PError } from "../../protocol/errors";
import type { RecordEntry } from "../../model/record";
import type { FileSummary } from "../../model/reports";
import { summarize } from "./announcements";
import type { FileLister } from "./file-list";
import { MAX_INDEXED_WORDS, foldText, nameKey, wordKey, wordsOf } from "./names";
import { notFound } from "./not-found";
import { waitForNewId } from "./manifest-fetch";
import type { FileRecords } from "./ports";

/** Files one LIST answers the client with; past it the reply would outgrow a frame: search instead. */
export const MAX_LIST_FILES = 50_000;
/** Names a word search looks up once more for their partial holders (announced under the name only); the rest show complete holders. */
export const MAX_SEARCH_NAME_LOOKUPS = 16;
/** Names whose last sighting is remembered for "no holder online". */
const MAX_REMEMBERED_NAMES = 10_000;

export class FileFinder {
  private readonly ring: FileRecords;
  private readonly lister: FileLister;
  /** When each name was last seen with a holder, so "no holder online" can say when (bounded, oldest dropped). */
  private readonly lastSeen = new Map<string, number>();

  constructor(options: { ring: FileRecords; lister: FileLister }) {
    this.ring = options.ring;
    this.lister = options.lister;
  }

  /** Every file in the network, each once, gathered by a broadcast over the fingers. */
  async list(): Promise<FileSummary[]> {
    const entries = new Map<string, RecordEntry>();
    for (const entry of await this.lister.collect()) entries.set(`${entry.key}/${entry.member}`, entry);
    const files = summarize([...entries.values()], "file");
    if (files.length > MAX_LIST_FILES) {
      throw new P2PError("UNAVAILABLE", `the network shares ${files.length} files, more than list shows (${MAX_LIST_FILES}); use search`);
    }
    this.remember(files);
    return files;
  }

  /** Whole words cost one lookup each; anything else falls back to matching over the list. */
  async search(term: string): Promise<FileSummary[]> {
    const needle = foldText(term.trim());
    if (needle.length === 0) throw new P2PError("MALFORMED", "search for what? give a word or part of a name");
    const words = wordsOf(needle);
    if (words.length > 0 && words.length <= MAX_INDEXED_WORDS) {
      let found: FileSummary[] | null = null;
      for (const word of words) {
        const hits = summarize(await this.ring.get(wordKey(word)), "word");
        found = found === null ? hits : found.filter((file) => hits.some((hit) => hit.id === file.id && hit.name === file.name));
      }
      const exact = (found ?? []).filter((file) => foldText(file.name).includes(needle) || words.every((word) => wordsOf(file.name).includes(word)));
      if (exact.length > 0) return this.withPartialHolders(exact);
    }
    return (await this.list()).filter((file) => foldText(file.name).includes(needle) || (words.length > 0 && words.every((word) => wordsOf(file.name).includes(word))));
  }

  /**
   * Word entries name only complete holders (a downloader announces itself under the name alone): the first
   * MAX_SEARCH_NAME_LOOKUPS names are looked up under their name key, in parallel, whose entries count both.
   */
  private async withPartialHolders(found: FileSummary[]): Promise<FileSummary[]> {
    const names = [...new Set(found.map((file) => file.name))].slice(0, MAX_SEARCH_NAME_LOOKUPS);
    const byName = new Map<string, FileSummary[]>();
    await Promise.all(
      names.map(async (name) => {
        // A lookup that fails leaves that name's complete holders as the words gave them.
        const entries = await this.ring.get(nameKey(name)).catch((error) => {
          if (!isP2PError(error)) throw error;
          return [];
        });
        byName.set(name, summarize(entries, "file"));
      }),
    );
    return found.map((file) => {
      const named = byName.get(file.name)?.find((summary) => summary.id === file.id);
      // The two keys' entries are put one after the other: a holder seen under either counts.
      return named ? { ...named, holders: Math.max(named.holders, file.holders) } : file;
    });
  }

  /** The one file `name` (with an id starting with `idPrefix`) names now; not found and several are errors that say what to do. */
  async target(name: string, idPrefix: string | null): Promise<FileSummary> {
    return (await this.targetWithEntries(name, idPrefix)).file;
  }

  /** `target`, with the name's record entries it was chosen from: they name its holders too, a lookup a download need not repeat. */
  async targetWithEntries(name: string, idPrefix: string | null): Promise<{ file: FileSummary; entries: RecordEntry[] }> {
    const entries = await this.ring.get(nameKey(name));
    const candidates = summarize(entries, "file").filter((file) => idPrefix === null || file.id.startsWith(idPrefix));
    this.remember(candidates);
    if (candidates.length === 0) throw await notFound(name, idPrefix, () => this.list(), this.lastSeen.get(name));
    if (candidates.length > 1) {
      const choices = candidates.map((file) => `${file.name}@${file.id.slice(0, 12)} (${file.size} bytes, ${file.holders} holders)`);
      throw new P2PError("CONFLICT", `'${name}' names ${candidates.length} different files; pick one with name@id: ${choices.join(", ")}`);
    }
    return { file: candidates[0]!, entries };
  }

  /** Waits (bounded) for `name` to be announced under an id other than `oldId`, as a holder that re-hashed a changed file does. */
  async newTarget(name: string, oldId: string): Promise<FileSummary | null> {
    const changed = await waitForNewId(async () => summarize(await this.ring.get(nameKey(name)), "file"), oldId);
    return changed ? this.target(name, null) : null;
  }

  private remember(files: readonly FileSummary[]): void {
    const now = Date.now();
    for (const file of files) {
      this.lastSeen.delete(file.name); // re-inserted: the map's order is recency
      this.lastSeen.set(file.name, now);
    }
    while (this.lastSeen.size > MAX_REMEMBERED_NAMES) this.lastSeen.delete(this.lastSeen.keys().next().value!);
  }
}
