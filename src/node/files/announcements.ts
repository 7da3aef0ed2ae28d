// Announcements: the record values that say who holds which file, and how list and search read them.

import { splitAddress } from "../../protocol/address";
import { hostOf } from "../../protocol/ip";
import type { RingId } from "../../model/id";
import type { RecordEntry } from "../../model/record";
import type { FileSummary } from "../../model/reports";
import { holderAddress } from "../signed-records";
import { nameKey } from "./names";
import type { Holder } from "./swarm/file-peers";

/** The value of an announcement entry; its member is `<fileId>@<holder>`. */
export interface Announcement {
  kind: "file" | "word";
  name: string;
  size: number;
  fileId: string;
  holder: string;
  /** Still downloading: it serves the chunks it has verified (announced under the name only). */
  partial?: boolean;
  /** A folder shared as one item (fetch its manifest with GET_FOLDER). */
  folder?: boolean;
}

/**
 * Groups announcement entries of one kind by file: name, size, id and how many distinct live complete
 * holders, counted by host (an IPv4 address, an IPv6 /64: `hostOf`) as ids are bound, so one address
 * listening on many ports is one holder. Hosts announced only as partial (still downloading; they serve
 * the chunks they verified) are counted apart, with the first MAX_LISTED_PARTIAL of their addresses.
 */
export function summarize(entries: readonly RecordEntry[], kind: Announcement["kind"]): FileSummary[] {
  const files = new Map<string, FileSummary & { holderSet: Set<string>; partialSet: Map<string, string> }>();
  for (const entry of entries) {
    const announcement = parseAnnouncement(entry);
    if (!announcement || announcement.kind !== kind) continue;
    const key = `${announcement.fileId}/${announcement.name}`;
    let file = files.get(key);
    if (!file) {
      file = { name: announcement.name, size: announcement.size, id: announcement.fileId, holders: 0, holderSet: new Set(), partialSet: new Map() };
      if (announcement.folder === true) file.folder = true;
      files.set(key, file);
    }
    const host = holderHost(announcement.holder);
    if (announcement.partial !== true) file.holderSet.add(host);
    else if (!file.partialSet.has(host)) file.partialSet.set(host, announcement.holder);
  }
  return [...files.values()]
    .map(({ holderSet, partialSet, ...file }) => {
      const partial = [...partialSet].filter(([host]) => !holderSet.has(host)).map(([, address]) => address);
      const summary: FileSummary = { ...file, holders: holderSet.size };
      if (partial.length > 0) Object.assign(summary, { partial: partial.length, partialHolders: partial.sort().slice(0, MAX_LISTED_PARTIAL) });
      return summary;
    })
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

/** Partial holders' addresses one summary names (their count is given in full). */
export const MAX_LISTED_PARTIAL = 8;

/** Every holder of `fileId` the entries name; a holder announced both ways counts as complete. */
export function holdersOf(entries: readonly RecordEntry[], fileId: string): Holder[] {
  const holders = new Map<string, Holder>();
  for (const entry of entries) {
    const announcement = parseAnnouncement(entry);
    if (announcement?.fileId !== fileId) continue;
    const partial = announcement.partial === true && holders.get(announcement.holder)?.partial !== false;
    holders.set(announcement.holder, { address: announcement.holder, partial });
  }
  return [...holders.values()];
}

/**
 * The member of a word entry: `<fileId>.<name tag>@<holder>`. Two names with the same bytes on one
 * holder are two entries under a word they share; with `<fileId>@<holder>` alone the second
 * announced replaced the first, and search showed only one of them (and withdrawing one hid both).
 */
export function wordMember(fileId: string, name: string, holder: string): string {
  const tag = new Bun.CryptoHasher("sha256").update(name).digest("hex").slice(0, NAME_TAG_HEX);
  return `${fileId}.${tag}@${holder}`;
}
/** Hex digits of SHA-256(name) in a word entry's member: 64 bits, so two names of one file on one holder do not collide. */
const NAME_TAG_HEX = 16;

export function parseAnnouncement(entry: RecordEntry): Announcement | null {
  try {
    const value = JSON.parse(entry.value) as Announcement;
    if (typeof value.name !== "string" || typeof value.fileId !== "string" || typeof value.holder !== "string" || !Number.isSafeInteger(value.size)) {
      return null;
    }
    // The member names the holder whose signature the ring checked (src/node/signed-records.ts): the value must say the same,
    // and it must be an address in its one spelling: an entry naming none is a plain record nobody signed, and leads to no holder.
    const member = value.kind === "word" ? wordMember(value.fileId, value.name, value.holder) : `${value.fileId}@${value.holder}`;
    // Word entries written before names had members of their own (`<fileId>@<holder>`) are still read until they expire.
    if ((entry.member !== member && entry.member !== `${value.fileId}@${value.holder}`) || holderAddress(entry.member) !== value.holder) return null;
    return value;
  } catch {
    return null;
  }
}

export function kindOf(entry: RecordEntry): string | null {
  return parseAnnouncement(entry)?.kind ?? null;
}

/** A holders lookup whose first answer is given once more, to the next caller; every later call looks again. */
export function answerTwice(holders: () => Promise<Holder[]>): () => Promise<Holder[]> {
  let kept: Holder[] | null = null;
  let first = true;
  return async () => {
    if (kept !== null) {
      const answer = kept;
      kept = null;
      return answer;
    }
    const answer = await holders();
    if (first) kept = answer;
    first = false;
    return answer;
  };
}

/** Holders of `id` under `name`: the first time from `entries` if given (just read: a lookup fewer), then from a lookup each time. */
export function nameHolders(get: (key: RingId) => Promise<RecordEntry[]>, name: string, id: string, entries?: RecordEntry[]): () => Promise<Holder[]> {
  let known = entries;
  return async () => {
    const read = known ?? (await get(nameKey(name)));
    known = undefined;
    return holdersOf(read, id);
  };
}

/** What one holder counts as in `holders`: its host, or for an edge (`ip:port/<edge id>`) the edge itself, not its relay's host. */
function holderHost(holder: string): string {
  const slash = holder.indexOf("/");
  return slash >= 0 ? holder.slice(slash + 1) : hostOf(splitAddress(holder).ip);
}
