// Which entries from peers a node takes in for keys it does not hold: only tombstones of entries it already stores.

import { describe, expect, test } from "bun:test";
import { holdsEntry, screenEntries } from "../../../src/node/ring/admission";
import { MemoryRecordStore } from "../../../src/node/ring/records";
import { entry, keyAfter } from "./parts";

const NOW = 1_700_000_000_000;
const KEY = keyAfter(3);
const OTHER_KEY = keyAfter(9);

/** A node that holds no key at all (its tables say others hold them) and stores one live entry of `m1` under KEY. */
function nodeWithStaleCopy() {
  const store = new MemoryRecordStore();
  store.merge([entry(KEY, "m1", NOW - 1_000)]);
  const storesLive = (key: string, member: string) => store.get(key, NOW).some((stored) => stored.member === member);
  const held = (candidate: Parameters<typeof holdsEntry>[0]) => holdsEntry(candidate, () => false, storesLive);
  return { store, held };
}

describe("admission of entries for keys a node does not hold", () => {
  test("a tombstone of a live entry the node stores is taken, and the stale copy no longer reads as live", () => {
    const { store, held } = nodeWithStaleCopy();
    const { admitted, refused } = screenEntries([entry(KEY, "m1", NOW, true)], held);
    expect(refused).toEqual([]);
    store.merge(admitted);
    expect(store.get(KEY, NOW)).toEqual([]);
  });

  test("a live entry, or a tombstone of an entry the node does not store, is still refused as not its key (409)", () => {
    const { held } = nodeWithStaleCopy();
    const batch = [entry(KEY, "m1", NOW), entry(KEY, "m2", NOW, true), entry(OTHER_KEY, "m1", NOW, true)];
    const { admitted, refused } = screenEntries(batch, held);
    expect(admitted).toEqual([]);
    expect(refused.map((refusal) => refusal.code)).toEqual(["CONFLICT", "CONFLICT", "CONFLICT"]);
  });
});
