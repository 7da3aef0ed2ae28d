// Scanning a node's records a page at a time (LIST_ALL_FILES): both stores walk (key, member) order from a cursor, live entries only.

import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { SqliteRecordStore } from "../../src/node/record-store";
import { ringId } from "../../src/model/id";
import { MemoryRecordStore, type RecordCursor, type RecordStore } from "../../src/node/ring/records";
import type { RecordEntry } from "../../src/model/record";
import { tempDir } from "../helpers/wait";

const dir = tempDir();
const stores: SqliteRecordStore[] = [];
afterAll(() => {
  for (const store of stores) store.close();
  dir.remove();
});

const now = Date.now();
function entry(key: string, member: string, overrides: Partial<RecordEntry> = {}): RecordEntry {
  return { key: ringId(key), member, value: "v", updatedAt: now, expiresAt: now + 60_000, deleted: false, ...overrides };
}

/** Every live entry, read `limit` at a time by following the cursor. */
function scanAll(store: RecordStore, limit: number): RecordEntry[] {
  const seen: RecordEntry[] = [];
  let cursor: RecordCursor | null = null;
  for (let page = 0; page < 1_000; page++) {
    const batch = store.liveAfter(cursor, now, limit);
    seen.push(...batch);
    if (batch.length < limit) return seen;
    cursor = { key: batch.at(-1)!.key, member: batch.at(-1)!.member };
  }
  throw new Error("the scan did not end");
}

const kinds: Array<[string, () => RecordStore]> = [
  ["MemoryRecordStore", () => new MemoryRecordStore()],
  [
    "SqliteRecordStore",
    () => {
      const store = new SqliteRecordStore(join(dir.path, `records-${stores.length}.db`));
      stores.push(store);
      return store;
    },
  ],
];

for (const [name, open] of kinds) {
  describe(name, () => {
    test("liveAfter walks every live entry once, in (key, member) byte order, whatever the page size, leaving out tombstones and expired entries", () => {
      const store = open();
      const live = ["a", "b", "c", "d"].flatMap((key) => ["m1", "m2", "é", "z"].map((member) => entry(key, member)));
      store.merge(live);
      store.merge([entry("a", "gone", { deleted: true }), entry("b", "old", { expiresAt: now - 1 })]);
      const expected = [...live].sort((x, y) => (x.key !== y.key ? (x.key < y.key ? -1 : 1) : Buffer.compare(Buffer.from(x.member), Buffer.from(y.member))));
      for (const limit of [1, 3, 16, 100]) {
        expect(scanAll(store, limit).map((found) => `${found.key}/${found.member}`)).toEqual(expected.map((one) => `${one.key}/${one.member}`));
      }
    });

    test("a scan from a cursor whose entry was deleted meanwhile goes on from the next one", () => {
      const store = open();
      store.merge([entry("k", "a"), entry("k", "b"), entry("k", "c")]);
      const [first] = store.liveAfter(null, now, 1);
      store.merge([{ ...entry("k", first!.member, { deleted: true }), updatedAt: now + 1 }]);
      expect(store.liveAfter({ key: first!.key, member: first!.member }, now, 10).map((found) => found.member)).toEqual(["b", "c"]);
    });
  });
}
