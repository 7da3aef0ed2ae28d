// One node's LIST_ALL_FILES pages: read from the store a slice at a time from the cursor, never a pass over every record.

import { describe, expect, test } from "bun:test";
import type { ChordNode } from "../../../src/node/ring/chord";
import { ringId } from "../../../src/model/id";
import { MemoryRecordStore, type RecordCursor } from "../../../src/node/ring/records";
import type { RecordEntry } from "../../../src/model/record";
import { peerAt } from "../../../src/model/peer";
import { FileLister } from "../../../src/node/files/file-list";
import type { FileLinks } from "../../../src/node/files/ports";
import { isP2PError } from "../../../src/protocol/errors";

const self = peerAt("127.0.0.2:7495");
const now = Date.now();

/** A node's records: `files` file announcements among `words` word entries, and a count of the rows each page reads. */
function listerOver(files: number, words: number, holdsKey: (key: string) => boolean = () => true) {
  const store = new MemoryRecordStore();
  const entries: RecordEntry[] = [];
  for (let index = 0; index < files; index++) {
    const fileId = index.toString(16).padStart(64, "0");
    const value = JSON.stringify({ kind: "file", name: `file-${index}.bin`, size: 1, fileId, holder: self.address });
    entries.push({ key: ringId(`name:file-${index}.bin`), member: `${fileId}@${self.address}`, value, updatedAt: now, expiresAt: now + 60_000, deleted: false });
  }
  for (let index = 0; index < words; index++) {
    const fileId = (index % 7).toString(16).padStart(64, "0");
    const value = JSON.stringify({ kind: "word", name: `word-${index}`, size: 1, fileId, holder: self.address });
    entries.push({ key: ringId(`word:${index}`), member: `${fileId}@${self.address}`, value, updatedAt: now, expiresAt: now + 60_000, deleted: false });
  }
  store.merge(entries);
  const reads = { rows: 0 };
  const ring = {
    routingPeers: () => [],
    holdsKey,
    localRecordsAfter: (after: RecordCursor | null, limit: number) => {
      const batch = store.liveAfter(after, Date.now(), limit);
      reads.rows += batch.length;
      return batch;
    },
  } as unknown as ChordNode;
  const lister = new FileLister({ self, ring, links: {} as FileLinks, warn: () => {}, holderKeys: {} as never });
  return { lister, reads };
}

describe("FileLister.step", () => {
  test("a page leaves out the entries of keys the node holds neither as primary nor as replica", () => {
    const stray = ringId("name:file-3.bin");
    const { lister } = listerOver(6, 0, (key) => key !== stray);
    const names = lister.step(self.id).files.map((entry) => JSON.parse(entry.value).name as string);
    expect(names.sort()).toEqual(["file-0.bin", "file-1.bin", "file-2.bin", "file-4.bin", "file-5.bin"]);
  });

  test("following the cursor lists every file entry exactly once, and no page reads more rows than its scan limit", () => {
    const { lister, reads } = listerOver(40, 3_000);
    const listed: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (; pages < 500; pages++) {
      reads.rows = 0;
      const step = lister.step(self.id, after, 1_000, 700);
      expect(reads.rows).toBeLessThanOrEqual(700);
      listed.push(...step.files.map((entry) => JSON.parse(entry.value).name as string));
      if (step.next === null) break;
      after = step.next;
    }
    expect(listed.sort()).toEqual(Array.from({ length: 40 }, (_, index) => `file-${index}.bin`).sort());
    expect(pages).toBeGreaterThan(4); // 3,040 rows at 700 a page at most: the scan went page by page
  });

  test("a page that fills up stops at its byte budget and the next one starts where it stopped", () => {
    const { lister } = listerOver(30, 0);
    const first = lister.step(self.id, null, 1_500);
    expect(first.files.length).toBeGreaterThan(0);
    expect(first.files.length).toBeLessThan(30);
    const second = lister.step(self.id, first.next, 1_000_000);
    expect(second.next).toBeNull();
    const names = [...first.files, ...second.files].map((entry) => JSON.parse(entry.value).name);
    expect(new Set(names).size).toBe(30);
  });

  test("a cursor that is not <key>/<member> is refused as malformed", () => {
    const { lister } = listerOver(1, 0);
    let error: unknown = null;
    try {
      lister.step(self.id, "not-a-cursor");
    } catch (caught) {
      error = caught;
    }
    expect(isP2PError(error, "MALFORMED")).toBe(true);
  });
});
