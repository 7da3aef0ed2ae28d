// The introducer's SQLite file: which peers registered, where, and when they were last heard from.

import type { Database, Statement } from "bun:sqlite";
import { openDatabase } from "../sqlite";

export interface PeerEntry {
  peerId: string;
  ip: string;
  port: number;
  lastSeen: number;
}

/** Owns one SQLite file: WAL, statements prepared once, every write in a synchronous transaction. */
export class PeerStore {
  private readonly db: Database;
  private readonly upsertPeer: Statement;
  private readonly deleteSameAddress: Statement;
  private readonly deletePeer: Statement;
  private readonly selectLive: Statement<PeerRow, [number]>;
  private readonly selectOthers: Statement<PeerRow, [string, number, number]>;
  private readonly deleteExpired: Statement;
  private readonly selectById: Statement<PeerRow, [string]>;
  private readonly selectByAddress: Statement<PeerRow, [string, number]>;
  private readonly registerTransaction: (entry: PeerEntry) => void;

  constructor(path: string) {
    this.db = openDatabase(path, SCHEMA);
    this.upsertPeer = this.db.prepare(
      `INSERT INTO peers (peer_id, ip, port, first_seen, last_seen) VALUES ($peerId, $ip, $port, $now, $now)
       ON CONFLICT (peer_id) DO UPDATE SET ip = excluded.ip, port = excluded.port, last_seen = excluded.last_seen`,
    );
    this.deleteSameAddress = this.db.prepare("DELETE FROM peers WHERE ip = $ip AND port = $port AND peer_id != $peerId");
    this.deletePeer = this.db.prepare("DELETE FROM peers WHERE peer_id = ?");
    this.selectLive = this.db.prepare("SELECT peer_id, ip, port, last_seen FROM peers WHERE last_seen >= ? ORDER BY peer_id");
    this.selectOthers = this.db.prepare(
      "SELECT peer_id, ip, port, last_seen FROM peers WHERE peer_id != ? AND last_seen >= ? ORDER BY random() LIMIT ?",
    );
    this.deleteExpired = this.db.prepare("DELETE FROM peers WHERE last_seen < ?");
    this.selectById = this.db.prepare("SELECT peer_id, ip, port, last_seen FROM peers WHERE peer_id = ?");
    this.selectByAddress = this.db.prepare("SELECT peer_id, ip, port, last_seen FROM peers WHERE ip = ? AND port = ?");
    // One address is one peer: a node that restarts under a new id replaces its old entry.
    this.registerTransaction = this.db.transaction((entry: PeerEntry) => {
      this.deleteSameAddress.run({ ip: entry.ip, port: entry.port, peerId: entry.peerId });
      this.upsertPeer.run({ peerId: entry.peerId, ip: entry.ip, port: entry.port, now: entry.lastSeen });
    });
  }

  /** Registers a peer or refreshes its last-seen time (the heartbeat). */
  register(entry: PeerEntry): void {
    this.registerTransaction(entry);
  }

  /** The peer registered under `peerId`, or null. */
  byId(peerId: string): PeerEntry | null {
    const row = this.selectById.get(peerId);
    return row ? fromRow(row) : null;
  }

  /** The peers registered at `ip:port` (at most one unless the file was written by an older version). */
  atAddress(ip: string, port: number): PeerEntry[] {
    return this.selectByAddress.all(ip, port).map(fromRow);
  }

  /** Removes a peer; false when it was not registered. */
  remove(peerId: string): boolean {
    return this.deletePeer.run(peerId).changes > 0;
  }

  /** Up to `limit` live peers other than `peerId`, in random order so joins spread over the ring. */
  sampleOthers(peerId: string, liveSince: number, limit: number): PeerEntry[] {
    return this.selectOthers.all(peerId, liveSince, limit).map(fromRow);
  }

  live(liveSince: number): PeerEntry[] {
    return this.selectLive.all(liveSince).map(fromRow);
  }

  /** Deletes peers not heard from since `liveSince`; returns how many. */
  prune(liveSince: number): number {
    return this.deleteExpired.run(liveSince).changes;
  }

  close(): void {
    this.db.close();
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS peers (
  peer_id    TEXT PRIMARY KEY,
  ip         TEXT NOT NULL,
  port       INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS peers_last_seen ON peers (last_seen);
CREATE INDEX IF NOT EXISTS peers_address ON peers (ip, port);
`;

interface PeerRow {
  peer_id: string;
  ip: string;
  port: number;
  last_seen: number;
}

function fromRow(row: PeerRow): PeerEntry {
  return { peerId: row.peer_id, ip: row.ip, port: row.port, lastSeen: row.last_seen };
}
