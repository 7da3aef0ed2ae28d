// The introducer's SQLite file: confirmed peers are sampled first, an address change drops the proof, and an older file gains the column.

import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { PeerStore } from "../../src/dns/peer-store";
import { tempDir } from "../helpers/wait";

const dir = tempDir();
afterAll(() => dir.remove());
let files = 0;
const freshPath = () => join(dir.path, `peers-${++files}.db`);

describe("PeerStore", () => {
  test("a sample hands out confirmed peers first, then fills up with the others", () => {
    const store = new PeerStore(freshPath());
    const now = 1_000_000;
    for (let i = 0; i < 200; i++) store.register({ peerId: `dead${i}`, ip: `127.50.0.${i + 1}`, port: 9, lastSeen: now });
    for (const id of ["live1", "live2"]) {
      store.register({ peerId: id, ip: `127.51.0.${id.at(-1)}`, port: 7495, lastSeen: now });
      store.confirm({ peerId: id, ip: `127.51.0.${id.at(-1)}`, port: 7495 }, now);
    }
    for (let round = 0; round < 20; round++) {
      const sample = store.sampleOthers("newcomer", now - 60_000, now - 300_000, 5).map((peer) => peer.peerId);
      expect(sample).toHaveLength(5);
      expect(sample.slice(0, 2).sort()).toEqual(["live1", "live2"]);
      expect(new Set(sample).size).toBe(5);
    }
    store.close();
  });

  test("a peer that moves to another address loses its confirmation; a heartbeat at the same address keeps it", () => {
    const store = new PeerStore(freshPath());
    store.register({ peerId: "p", ip: "127.52.0.1", port: 7495, lastSeen: 1 });
    store.confirm({ peerId: "p", ip: "127.52.0.1", port: 7495 }, 5);
    store.register({ peerId: "p", ip: "127.52.0.1", port: 7495, lastSeen: 10 });
    expect(store.byId("p")!.confirmedAt).toBe(5);
    store.register({ peerId: "p", ip: "127.52.0.2", port: 7495, lastSeen: 20 });
    expect(store.byId("p")!.confirmedAt).toBe(0);
    store.close();
  });

  test("a file written before confirmations existed opens with its peers unconfirmed", () => {
    const path = freshPath();
    const old = new Database(path, { create: true });
    old.exec("CREATE TABLE peers (peer_id TEXT PRIMARY KEY, ip TEXT NOT NULL, port INTEGER NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL)");
    old.exec("INSERT INTO peers VALUES ('kept', '127.53.0.1', 7495, 1, 100)");
    old.close();
    const store = new PeerStore(path);
    expect(store.byId("kept")).toEqual({ peerId: "kept", ip: "127.53.0.1", port: 7495, lastSeen: 100, confirmedAt: 0, also: false });
    expect(store.sampleOthers("x", 0, 50, 5).map((peer) => peer.peerId)).toEqual(["kept"]);
    store.close();
  });

  test("heartbeats held in memory are seen by every read, and written to the file by close", () => {
    const path = freshPath();
    const store = new PeerStore(path);
    store.register({ peerId: "beat", ip: "127.54.0.1", port: 7495, lastSeen: 10 });
    store.refresh("beat", 20);
    expect(store.byId("beat")!.lastSeen).toBe(20);
    expect(store.live(15).map((peer) => peer.peerId)).toEqual(["beat"]);
    store.refresh("beat", 30);
    store.close();
    const reopened = new PeerStore(path);
    expect(reopened.byId("beat")!.lastSeen).toBe(30);
    reopened.close();
  });

  test("among many confirmed peers a sample draws each about as often, and never one removed or gone silent", () => {
    const store = new PeerStore(freshPath());
    const now = 1_000_000;
    for (let i = 0; i < 50; i++) {
      const peer = { peerId: `c${i}`, ip: `127.55.0.${i + 1}`, port: 7495 };
      store.register({ ...peer, lastSeen: now });
      store.confirm(peer, now);
    }
    store.remove("c0");
    store.register({ peerId: "c1", ip: "127.55.0.2", port: 7495, lastSeen: now - 120_000 });
    const counts = new Map<string, number>();
    for (let round = 0; round < 2_000; round++) {
      const sample = store.sampleOthers("c2", now - 60_000, now - 300_000, 5).map((peer) => peer.peerId);
      expect(new Set(sample).size).toBe(5);
      for (const id of sample) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect([...counts.keys()].filter((id) => ["c0", "c1", "c2"].includes(id))).toEqual([]);
    // 47 peers, 10,000 draws: about 213 each; uniform draws stay well inside half to twice that.
    expect(counts.size).toBe(47);
    for (const count of counts.values()) expect(count).toBeGreaterThan(106);
    for (const count of counts.values()) expect(count).toBeLessThan(426);
    store.close();
  });
});
