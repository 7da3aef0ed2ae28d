import { describe, expect, test } from "bun:test";
import { bigIntToId } from "../../../src/model/id";
import { MemoryRecordStore } from "../../../src/node/ring/records";
import type { RecordEntry } from "../../../src/model/record";

const KEY = bigIntToId(100n);

function entry(overrides: Partial<RecordEntry> = {}): RecordEntry {
  return { key: KEY, member: "alice", value: "v1", updatedAt: 1000, expiresAt: null, deleted: false, ...overrides };
}

describe("MemoryRecordStore", () => {
  test("one key holds several members", () => {
    const store = new MemoryRecordStore();
    store.merge([entry({ member: "alice" }), entry({ member: "bob" })]);
    expect(store.get(KEY, 0).map((e) => e.member).sort()).toEqual(["alice", "bob"]);
  });

  test("merge keeps the newer write and ignores an older one", () => {
    const store = new MemoryRecordStore();
    store.merge([entry({ value: "old", updatedAt: 1 })]);
    expect(store.merge([entry({ value: "new", updatedAt: 2 })])).toBe(1);
    expect(store.merge([entry({ value: "stale", updatedAt: 1 })])).toBe(0);
    expect(store.get(KEY, 0)[0]!.value).toBe("new");
  });

  test("a tie on updatedAt keeps the stored entry", () => {
    const store = new MemoryRecordStore();
    store.merge([entry({ value: "first" })]);
    expect(store.merge([entry({ value: "second" })])).toBe(0);
    expect(store.get(KEY, 0)[0]!.value).toBe("first");
  });

  test("merging the same entries twice changes nothing the second time", () => {
    const store = new MemoryRecordStore();
    const batch = [entry({ member: "a" }), entry({ member: "b" })];
    expect(store.merge(batch)).toBe(2);
    expect(store.merge(batch)).toBe(0);
    expect(store.count()).toBe(2);
  });

  test("a tombstone hides the member and stops an older replica from bringing it back", () => {
    const store = new MemoryRecordStore();
    store.merge([entry({ updatedAt: 1 })]);
    store.merge([entry({ updatedAt: 2, deleted: true, value: "", expiresAt: 10_000 })]);
    expect(store.get(KEY, 0)).toEqual([]);
    expect(store.merge([entry({ updatedAt: 1 })])).toBe(0);
    expect(store.get(KEY, 0)).toEqual([]);
  });

  test("a tombstone is kept until it expires, then pruned", () => {
    const store = new MemoryRecordStore();
    store.merge([entry({ updatedAt: 2, deleted: true, expiresAt: 500 })]);
    expect(store.pruneExpired(499)).toBe(0);
    expect(store.count()).toBe(1);
    expect(store.pruneExpired(500)).toBe(1);
    expect(store.count()).toBe(0);
  });

  test("get leaves out entries past their expiry", () => {
    const store = new MemoryRecordStore();
    store.merge([entry({ member: "short", expiresAt: 50 }), entry({ member: "forever" })]);
    expect(store.get(KEY, 49).length).toBe(2);
    expect(store.get(KEY, 50).map((e) => e.member)).toEqual(["forever"]);
  });

  test("inRange selects keys in (from, to], wrapping past zero", () => {
    const store = new MemoryRecordStore();
    const max = (1n << 160n) - 1n;
    for (const n of [1n, 50n, 100n, max]) store.merge([entry({ key: bigIntToId(n) })]);
    const keys = (from: bigint, to: bigint): bigint[] =>
      store.inRange(bigIntToId(from), bigIntToId(to)).map((e) => BigInt(`0x${e.key}`)).sort((a, b) => (a < b ? -1 : 1));
    expect(keys(1n, 100n)).toEqual([50n, 100n]);
    expect(keys(100n, 1n)).toEqual([1n, max]);
  });

  test("entries handed out are copies, so callers cannot change the store", () => {
    const store = new MemoryRecordStore();
    store.merge([entry()]);
    store.get(KEY, 0)[0]!.value = "tampered";
    expect(store.all()[0]!.value).toBe("v1");
  });
});
