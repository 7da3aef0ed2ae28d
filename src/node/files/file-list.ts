// The LIST_ALL_FILES broadcast: every node visited once over the fingers, each read a page at a time, each entry believed only if its holder signed it.

import { P2PError, isP2PError } from "../../protocol/errors";
import { ID_HEX_LENGTH, inOpenInterval, isRingId, ringDistance, type RingId } from "../../model/id";
import type { RecordCursor } from "../ring/records";
import type { RecordEntry } from "../../model/record";
import type { Peer } from "../../model/peer";
import { checkEntries, type HolderKeys } from "../signed-records";
import type { ListStep } from "../../wire/files";
import { kindOf } from "./announcements";
import type { FileLinks, LocalListing } from "./ports";

/** Nodes one LIST visits at once, and at most in all. */
const LIST_CONCURRENCY = 16;
const MAX_LIST_VISITS = 4096;
/** Encoded file entries in one LIST_ALL_FILES reply: pages keep every reply far below the frame limit. */
export const LIST_PAGE_BYTES = 1024 * 1024;
/** Pages one LIST reads from one node (a node stores at most MAX_STORED_RECORD_BYTES of records). */
const MAX_LIST_PAGES_PER_NODE = 128;
/**
 * Records one page reads at most (file entries or not), so answering a page costs a bounded slice of
 * the store: 100,000 records (MAX_STORED_ENTRIES) take 5 pages of pure scanning, well within the pages allowed.
 */
export const LIST_SCAN_PER_PAGE = 20_000;
/** Records read from the store at a time while a page is filled. */
const LIST_SCAN_BATCH = 512;

export type { ListStep };

export interface ListerOptions {
  self: Peer;
  ring: LocalListing;
  links: FileLinks;
  warn: (message: string) => void;
  /** Holders' keys (learnt from each holder's own address): another node's page is believed entry by entry. */
  holderKeys: HolderKeys;
}

export class FileLister {
  private readonly options: ListerOptions;

  constructor(options: ListerOptions) {
    this.options = options;
  }

  /**
   * This node's share of LIST_ALL_FILES: one page of its file entries (those after the cursor
   * `after`, in key/member order), the routing peers in (self, limit), and the cursor of the next
   * page (null on the last). A page reads the store from the cursor on, never the whole store: at
   * most `scanLimit` entries (words and other records are skipped over), so a page may hold few
   * files or none and still name a next cursor.
   */
  step(limit: RingId, after: string | null = null, pageBytes = LIST_PAGE_BYTES, scanLimit = LIST_SCAN_PER_PAGE): ListStep {
    const self = this.options.self;
    const children = this.options.ring.routingPeers().filter((peer) => inOpenInterval(peer.id, self.id, limit) || limit === self.id);
    const files: RecordEntry[] = [];
    let cursor = parseCursor(after);
    let bytes = 0;
    let scanned = 0;
    while (scanned < scanLimit) {
      const batch = this.options.ring.localRecordsAfter(cursor, Math.min(LIST_SCAN_BATCH, scanLimit - scanned));
      for (const entry of batch) {
        // A cheap look before parsing: most records are word entries, and a page should cost its own rows.
        // Only keys this node holds: an entry replayed to it for a key it does not look after is no listing of the ring's.
        if (entry.value.includes('"file"') && kindOf(entry) === "file" && this.options.ring.holdsKey(entry.key)) {
          // About what the entry takes as JSON: its strings plus the field names and numbers.
          const size = entry.key.length + entry.member.length + entry.value.length + 100;
          if (bytes + size > pageBytes && files.length > 0) return { files, children, next: cursorString(cursor) };
          files.push(entry);
          bytes += size;
        }
        cursor = { key: entry.key, member: entry.member };
      }
      scanned += batch.length;
      if (batch.length < LIST_SCAN_BATCH) return { files, children, next: null };
    }
    return { files, children, next: cursorString(cursor) };
  }

  /**
   * Every file entry stored in the ring, replicas' copies included: each node is visited once and
   * asked for its entries and its routing peers in its slice of the ring.
   */
  async collect(): Promise<RecordEntry[]> {
    const self = this.options.self;
    const files: RecordEntry[] = [];
    const believe = this.believer();
    const visited = new Set<string>([self.address]);
    let visits = 0;
    const visit = async (peer: Peer, limit: RingId): Promise<void> => {
      let step: ListStep | null = null;
      let after: string | null = null;
      for (let page = 0; page < MAX_LIST_PAGES_PER_NODE; page++) {
        let next: ListStep;
        try {
          next = await this.listPage(peer, limit, after);
        } catch (error) {
          if (!(isP2PError(error) || error instanceof SyntaxError)) throw error;
          // Its range is still covered by the replicas its neighbours hold, but say so: the list may be short.
          this.options.warn(`list: ${peer.address} did not answer LIST_ALL_FILES (${(error as Error).message}); files only it holds are missing`);
          break;
        }
        step ??= next;
        const listed = next.files.filter((entry) => kindOf(entry) === "file");
        files.push(...(peer.address === self.address ? listed : await believe(peer, listed)));
        if (next.next === null) break;
        after = next.next;
      }
      if (step === null) return;
      const children = step.children
        .filter((child) => !visited.has(child.address) && (limit === peer.id ? child.id !== peer.id : inOpenInterval(child.id, peer.id, limit)))
        .sort((a, b) => (ringDistance(peer.id, a.id) < ringDistance(peer.id, b.id) ? -1 : 1));
      const tasks: Promise<void>[] = [];
      for (let index = 0; index < children.length; index++) {
        const child = children[index]!;
        if (visited.has(child.address) || visits >= MAX_LIST_VISITS) continue;
        visited.add(child.address);
        visits++;
        const childLimit = children[index + 1]?.id ?? limit;
        tasks.push(limited(() => visit(child, childLimit)));
      }
      await Promise.all(tasks);
    };
    const limited = concurrencyLimit(LIST_CONCURRENCY);
    await visit(self, self.id);
    return files;
  }

  /**
   * What of a node's page to believe: entries signed by the holder they name, not dated ahead
   * (src/node/signed-records.ts); the rest is left out and the node named in a warning. Copies of one
   * entry (a key's replicas list it too) are verified once per list.
   */
  private believer(): (peer: Peer, entries: RecordEntry[]) => Promise<RecordEntry[]> {
    const verified = new Set<string>();
    // Every field: a copy that differs in any of them (a value a liar changed) is checked on its own.
    const identity = (entry: RecordEntry) =>
      JSON.stringify([entry.key, entry.member, entry.value, entry.updatedAt, entry.expiresAt, entry.deleted, entry.signature ?? null]);
    return async (peer, entries) => {
      const fresh = entries.filter((entry) => !verified.has(identity(entry)));
      // A file announcement always names its holder's address (parseAnnouncement), so every one is checked here.
      const { believed, refused } = await checkEntries(fresh, this.options.holderKeys, Date.now());
      for (const entry of believed) verified.add(identity(entry));
      if (refused.length > 0) {
        this.options.warn(`list: ${peer.address} listed ${refused.length} entries that do not verify (not signed by the holder they name, or dated ahead), left out (first: ${refused[0]})`);
      }
      return entries.filter((entry) => verified.has(identity(entry)));
    };
  }

  private async listPage(peer: Peer, limit: RingId, after: string | null): Promise<ListStep> {
    // This node's own entries cross no frame: one pass, not a page at a time. Each page reads every
    // entry again, and pages read in a row here would hold the event loop long enough for this
    // node's pings to go unanswered and its neighbours to drop it.
    if (peer.address === this.options.self.address) return this.step(limit, after, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
    return this.options.links.listPage(peer.address, limit, after);
  }
}

/** `<key>/<member>` of the last entry a page read: keys are fixed-width, so the first '/' after them splits it. */
function parseCursor(after: string | null): RecordCursor | null {
  if (after === null) return null;
  const key = after.slice(0, ID_HEX_LENGTH);
  if (!isRingId(key) || after[ID_HEX_LENGTH] !== "/") throw new P2PError("MALFORMED", `invalid LIST_ALL_FILES cursor '${after.slice(0, 80)}': expected <key>/<member>`);
  return { key, member: after.slice(ID_HEX_LENGTH + 1) };
}

function cursorString(cursor: RecordCursor | null): string | null {
  return cursor === null ? null : `${cursor.key}/${cursor.member}`;
}

function concurrencyLimit(max: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
