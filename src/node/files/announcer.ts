// Puts and withdraws this node's announcements in the ring, one (id, name) at a time, so a withdrawal is never overtaken by an announce in flight.

import type { Peer } from "../../model/peer";
import { type Announcement, wordMember } from "./announcements";
import { indexedWordsOf, nameKey, wordKey } from "./names";
import type { FileRecords } from "./ports";

/** What is announced: a file (by its file id) or a folder (by its folder id). */
export type AnnouncedItem = { name: string; size: number; fileId?: string; folderId?: string };

export class Announcer {
  private readonly self: Peer;
  private readonly ring: FileRecords;
  private readonly ttlMs: number;
  /**
   * The last put or withdrawal of each `<id>/<name>`, chained: a withdrawal waits for an announce
   * already under way (the re-announce after a restart walks every shared file and takes seconds),
   * so its tombstones are stamped after that announce's entries and win. Without this an unshare
   * during that walk was undone by it until the entries expired (2 × the announce interval).
   */
  private readonly pending = new Map<string, Promise<void>>();
  /**
   * Set when the node leaves (`stopAnnouncing`): an announce that had not started by then puts nothing. A
   * re-announce walk still going through the files (the schedule's, or one after a ring change) would
   * otherwise put a file again after the leave's withdrawal of it, stamped later, and keep a holder that
   * is gone findable until its entries expired.
   */
  private stopped = false;

  constructor(options: { self: Peer; ring: FileRecords; ttlMs: number }) {
    this.self = options.self;
    this.ring = options.ring;
    this.ttlMs = options.ttlMs;
  }

  /** Announces a complete holder under the item's name and each of its words. */
  announce(item: AnnouncedItem, folder = false): Promise<void> {
    const file = { name: item.name, size: item.size, fileId: idOf(item) };
    const holder = this.self.address;
    const extra = folder ? { folder: true } : {};
    const value = (kind: Announcement["kind"]) => JSON.stringify({ kind, name: file.name, size: file.size, fileId: file.fileId, holder, ...extra } satisfies Announcement);
    // The keys are independent, so their puts go out together: a download's reply waits for its announcement,
    // and one put after another cost a lookup and a store per word in a row (the name and 3 words: ~4 x as long).
    return this.serially(file.fileId, file.name, async () => {
      if (this.stopped) return;
      const puts = [this.ring.put(nameKey(file.name), `${file.fileId}@${holder}`, value("file"), this.ttlMs)];
      for (const word of indexedWordsOf(file.name)) puts.push(this.ring.put(wordKey(word), wordMember(file.fileId, file.name, holder), value("word"), this.ttlMs));
      await settleAll(puts);
    });
  }

  /** A download under way, under its name only: search shows complete files, downloads find every source. */
  announcePartial(fileId: string, name: string, size: number): Promise<void> {
    const holder = this.self.address;
    const value = JSON.stringify({ kind: "file", name, size, fileId, holder, partial: true } satisfies Announcement);
    return this.serially(fileId, name, async () => {
      if (!this.stopped) await this.ring.put(nameKey(name), `${fileId}@${holder}`, value, this.ttlMs);
    });
  }

  /** The node is leaving: from now on nothing is announced, while withdrawals still go out (after any announce already under way). */
  stopAnnouncing(): void {
    this.stopped = true;
  }

  withdrawPartial(fileId: string, name: string): Promise<void> {
    return this.serially(fileId, name, () => this.ring.remove(nameKey(name), `${fileId}@${this.self.address}`).then(() => {}));
  }

  /** Tombstones the item's entries under its name and each of its words, as held at `holder` (this node's address, or one it had before). */
  withdraw(item: { name: string; fileId?: string; folderId?: string }, holder = this.self.address): Promise<void> {
    const fileId = idOf(item);
    return this.serially(fileId, item.name, async () => {
      await this.ring.remove(nameKey(item.name), `${fileId}@${holder}`);
      for (const word of indexedWordsOf(item.name)) await this.ring.remove(wordKey(word), wordMember(fileId, item.name, holder));
    });
  }

  /** Runs `task` after every earlier put or withdrawal of the same id and name, whether that one failed or not. */
  private serially(fileId: string, name: string, task: () => Promise<void>): Promise<void> {
    const key = `${fileId}/${name}`;
    const previous = this.pending.get(key) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(task);
    const settled = run.catch(() => {});
    this.pending.set(key, settled);
    void settled.then(() => {
      if (this.pending.get(key) === settled) this.pending.delete(key);
    });
    return run;
  }
}

/** Waits for every promise, then fails with the first failure if any failed: none is left running unobserved. */
async function settleAll(promises: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(promises)).find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
}

function idOf(item: { fileId?: string; folderId?: string }): string {
  return (item.fileId ?? item.folderId)!;
}
