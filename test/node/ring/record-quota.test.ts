// Record quotas: a node stores a bounded amount for the ring, whoever floods it with announcements.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { SqliteRecordStore } from "../../../src/node/record-store";
import { MAX_MEMBERS_PER_KEY, MAX_UNSIGNED_ENTRIES } from "../../../src/node/ring/record-quota";
import { ringId } from "../../../src/model/id";
import type { RecordEntry } from "../../../src/model/record";
import { MAX_RECORD_LIFETIME_MS } from "../../../src/node/ring/admission";
import { MAX_RECORDS_PER_MESSAGE } from "../../../src/wire/records";
import { connect } from "../../../src/protocol/client";
import { isP2PError } from "../../../src/protocol/errors";
import { decodeLines } from "../../../src/protocol/frame";
import { type Testnet, createTestnet } from "../../../src/testnet";
import { tempDir } from "../../helpers/wait";

const now = Date.now();
const entry = (key: string, member: string, value = "v", updatedAt = now): RecordEntry => ({
  key: ringId(key),
  member,
  value,
  updatedAt,
  expiresAt: updatedAt + 60_000,
  deleted: false,
});

describe("SqliteRecordStore quota", () => {
  const dir = tempDir();
  const stores: SqliteRecordStore[] = [];
  const open = (name: string, limits: ConstructorParameters<typeof SqliteRecordStore>[1] = {}) => {
    const store = new SqliteRecordStore(join(dir.path, name), limits);
    stores.push(store);
    return store;
  };
  afterAll(() => {
    for (const store of stores) store.close();
    dir.remove();
  });

  test("a key takes members up to its limit; the next new member is refused with the reason", () => {
    const store = open("per-key.db", { membersPerKey: 3 });
    expect(store.merge([entry("k", "a@h1"), entry("k", "b@h2"), entry("k", "c@h3")])).toBe(3);
    expect(() => store.merge([entry("k", "d@h4")])).toThrow(/key [0-9a-f]{12} already has 3 members, the most one key may hold/);
    expect(store.merge([entry("other", "d@h4")])).toBe(1);
    expect(store.refusedCount).toBe(1);
  });

  test("a batch keeps what fits and drops only what is over the limit", () => {
    const store = open("partial.db", { entriesPerHolder: 2 });
    const [evil, honest] = ["127.0.0.66:7000", "127.0.0.67:7000"];
    const batch = [entry("k1", `a@${evil}`), entry("k2", `b@${evil}`), entry("k3", `c@${evil}`), entry("k4", `d@${honest}`)];
    expect(store.merge(batch)).toBe(3);
    expect(store.get(ringId("k3"), now)).toEqual([]);
    expect(store.get(ringId("k4"), now).map((stored) => stored.member)).toEqual([`d@${honest}`]);
  });

  test("a full store still takes newer values and tombstones of members it holds", () => {
    const store = open("full.db", { entries: 2 });
    const h = "127.0.0.68:7000";
    store.merge([entry("k", `a@${h}`), entry("k", `b@${h}`)]);
    expect(() => store.merge([entry("k", `c@${h}`)])).toThrow(/already stores 2 records, its limit/);
    expect(store.merge([entry("k", `a@${h}`, "newer", now + 1)])).toBe(1);
    expect(store.merge([{ ...entry("k", `b@${h}`, "", now + 2), deleted: true }])).toBe(1);
    expect(store.get(ringId("k"), now).map((stored) => stored.value)).toEqual(["newer"]);
  });

  test("unsigned entries fill a budget of their own: a store full of them still takes entries that name their holder", () => {
    const store = open("unsigned.db", { unsignedEntries: 2, entries: 2 });
    store.merge([entry("k1", "plain-1"), entry("k2", "plain-2")]);
    expect(() => store.merge([entry("k3", "plain-3"), entry("k4", "x@not-an-address")])).toThrow(/already stores 2 unsigned records \(plain puts\), its limit/);
    expect(store.merge([entry("k5", "f@127.0.0.69:7000"), entry("k6", "g@127.0.0.69:7000")])).toBe(2);
    expect(() => store.merge([entry("k7", "h@127.0.0.70:7000")])).toThrow(/already stores 2 records, its limit/);
  });

  test("plain puts that fill a key's members do not crowd out members that name their holder, and the count survives a reopen", () => {
    const store = open("crowded.db", { membersPerKey: 2 });
    store.merge([entry("k", "plain-1"), entry("k", "plain-2")]);
    expect(() => store.merge([entry("k", "plain-3")])).toThrow(/already has 2 members/);
    expect(store.merge([entry("k", "a@127.0.0.71:7000"), entry("k", "b@127.0.0.72:7000")])).toBe(2);
    expect(() => store.merge([entry("k", "c@127.0.0.73:7000")])).toThrow(/already has 2 members/);
    store.close();
    stores.splice(stores.indexOf(store), 1);
    const again = open("crowded.db", { membersPerKey: 3 });
    expect(again.merge([entry("k", "c@127.0.0.73:7000")])).toBe(1);
  });

  test("entries stored never to expire, as older versions kept them, expire after the longest lifetime once the store is reopened", () => {
    const first = open("forever.db");
    first.merge([{ ...entry("k", "plain"), expiresAt: null }]);
    first.close();
    stores.splice(stores.indexOf(first), 1);
    const again = open("forever.db");
    const [stored] = again.get(ringId("k"), now);
    expect(stored!.expiresAt).toBe(now + MAX_RECORD_LIFETIME_MS);
    expect(again.pruneExpired(now + MAX_RECORD_LIFETIME_MS)).toBe(1);
  });

  test("expired entries free their place, and the totals survive a reopen", () => {
    const path = "reopen.db";
    const first = open(path, { unsignedEntries: 2 });
    first.merge([{ ...entry("k", "a@h"), expiresAt: now - 1 }, entry("k", "b@h")]);
    expect(() => first.merge([entry("k", "c@h")])).toThrow(/its limit/);
    expect(first.pruneExpired(now)).toBe(1);
    expect(first.merge([entry("k", "c@h")])).toBe(1);
    first.close();
    stores.splice(stores.indexOf(first), 1);
    const again = open(path, { unsignedEntries: 2 });
    expect(() => again.merge([entry("k", "d@h")])).toThrow(/its limit/);
  });
});

describe("a node flooded with announcements", () => {
  let net: Testnet | null = null;
  afterEach(async () => {
    await net?.close();
    net = null;
  });

  test("a hostile peer's flood of fake records is cut off at the quota, and the node keeps serving", async () => {
    net = await createTestnet({ nodes: 1, nodeArgs: ["--stabilize", "200"] });
    await net.waitForConsistentRing(30_000);
    const victim = net.nodes[0]!;
    const [ip, port] = victim.address.split(":") as [string, string];
    const attacker = await connect({ hostname: ip, port: Number(port) });
    try {
      // One key with far more members than a key may have, each naming a different holder. Members naming a holder
      // address must be signed by it (test/security covers that); plain records like these are bounded by the quota alone.
      const crowded = Array.from({ length: MAX_MEMBERS_PER_KEY + 200 }, (_, index) => entry("name:popular", `f${index}@holder-${index}`));
      const outcomes: string[] = [];
      for (let at = 0; at < crowded.length; at += 500) {
        const reply = await attacker.send("PUT_RECORDS", [], { body: Buffer.from(JSON.stringify(crowded.slice(at, at + 500))) });
        outcomes.push(`${reply.status} ${decodeLines(reply.body).join(" ")}`);
      }
      expect(outcomes.at(-1)).toMatch(/^503 .*already has 1000 members/);
      const stored = await attacker.request("GET_RECORDS", [ringId("name:popular")]);
      expect(JSON.parse(new TextDecoder().decode(stored.body)).length).toBe(MAX_MEMBERS_PER_KEY);

      // Then records under ever new keys until the node is full: it refuses, it does not grow.
      let refused = "";
      const batches = Math.ceil((MAX_UNSIGNED_ENTRIES + 4 * MAX_RECORDS_PER_MESSAGE) / MAX_RECORDS_PER_MESSAGE);
      for (let batch = 0; batch < batches && refused === ""; batch++) {
        const entries = Array.from({ length: MAX_RECORDS_PER_MESSAGE }, (_, index) =>
          entry(`flood-${batch}-${index}`, `x@holder-${batch}`),
        );
        const reply = await attacker.send("PUT_RECORDS", [], { body: Buffer.from(JSON.stringify(entries)) });
        if (reply.status !== 200) refused = `${reply.status} ${decodeLines(reply.body).join(" ")}`;
      }
      expect(refused).toMatch(/^503 .*already stores 10000 unsigned records \(plain puts\), its limit/);
      const status = await net.status(victim);
      expect(status.records.primary + status.records.replica).toBeLessThanOrEqual(MAX_MEMBERS_PER_KEY + MAX_UNSIGNED_ENTRIES);
      expect(decodeLines((await attacker.request("PING")).body)).toEqual(["PONG"]);
    } catch (error) {
      if (isP2PError(error)) throw new Error(`${error.code}: ${error.message}`);
      throw error;
    } finally {
      attacker.close();
    }
  }, 120_000);
});
