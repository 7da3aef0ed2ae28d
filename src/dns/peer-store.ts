// The introducer's SQLite file: which peers registered, where, and when they were last heard from.

import type { Database, Statement } from "bun:sqlite";
import { openDatabase } from "../sqlite";

export interface PeerEntry {
  peerId: string;
  ip: string;
  port: number;
  lastSeen: number;
  /** When the DNS last had proof that this peer is at its address (0: never); reset when the address changes. */
  confirmedAt: number;
}

/** Owns one SQLite file: WAL, statements prepared once, every write in a synchronous transaction. */
export class PeerStore {
  private readonly db: Database;
  private readonly upsertPeer: Statement;
  private readonly deleteSameAddress: Statement;
  private readonly deletePeer: Statement;
  private readonly selectLive: Statement<PeerRow, [number]>;
  private readonly selectConfirmed: Statement<PeerRow, [string, number, number, number]>;
  private readonly selectUnconfirmedFrom: Statement<PeerRow, [string, number, number, number, number]>;
  private readonly selectUnconfirmedBefore: Statement<PeerRow, [string, number, number, number, number]>;
  private readonly selectTopRowid: Statement<{ top: number | null }, []>;
  private readonly updateConfirmed: Statement;
  private readonly countConfirmedAt: Statement<{ count: number }, [string, number, number, string]>;
  private readonly deleteExpired: Statement;
  private readonly selectById: Statement<PeerRow, [string]>;
  private readonly selectByAddress: Statement<PeerRow, [string, number]>;
  private readonly registerTransaction: (entry: Omit<PeerEntry, "confirmedAt">) => void;

  constructor(path: string) {
    this.db = openDatabase(path, SCHEMA);
    addConfirmedAt(this.db);
    // A peer that moves to another address must prove itself there again.
    this.upsertPeer = this.db.prepare(
      `INSERT INTO peers (peer_id, ip, port, first_seen, last_seen, confirmed_at) VALUES ($peerId, $ip, $port, $now, $now, 0)
       ON CONFLICT (peer_id) DO UPDATE SET ip = excluded.ip, port = excluded.port, last_seen = excluded.last_seen,
         confirmed_at = CASE WHEN peers.ip = excluded.ip AND peers.port = excluded.port THEN peers.confirmed_at ELSE 0 END`,
    );
    this.deleteSameAddress = this.db.prepare("DELETE FROM peers WHERE ip = $ip AND port = $port AND peer_id != $peerId");
    this.deletePeer = this.db.prepare("DELETE FROM peers WHERE peer_id = ?");
    this.selectLive = this.db.prepare(`SELECT ${COLUMNS} FROM peers WHERE last_seen >= ? ORDER BY peer_id`);
    this.selectConfirmed = this.db.prepare(
      `SELECT ${COLUMNS} FROM peers WHERE peer_id != ? AND last_seen >= ? AND confirmed_at >= ? ORDER BY random() LIMIT ?`,
    );
    // The unconfirmed may be a flood of thousands: a run of them from a random row, not a sort of them all per JOIN.
    const unconfirmed = `SELECT ${COLUMNS} FROM peers WHERE peer_id != ? AND last_seen >= ? AND confirmed_at < ?`;
    this.selectUnconfirmedFrom = this.db.prepare(`${unconfirmed} AND rowid >= ? ORDER BY rowid LIMIT ?`);
    this.selectUnconfirmedBefore = this.db.prepare(`${unconfirmed} AND rowid < ? ORDER BY rowid LIMIT ?`);
    this.selectTopRowid = this.db.prepare("SELECT max(rowid) AS top FROM peers");
    this.updateConfirmed = this.db.prepare("UPDATE peers SET confirmed_at = $at WHERE peer_id = $peerId AND ip = $ip AND port = $port");
    this.countConfirmedAt = this.db.prepare(
      "SELECT COUNT(*) AS count FROM peers WHERE ip = ? AND last_seen >= ? AND confirmed_at >= ? AND peer_id != ?",
    );
    this.deleteExpired = this.db.prepare("DELETE FROM peers WHERE last_seen < ?");
    this.selectById = this.db.prepare(`SELECT ${COLUMNS} FROM peers WHERE peer_id = ?`);
    this.selectByAddress = this.db.prepare(`SELECT ${COLUMNS} FROM peers WHERE ip = ? AND port = ?`);
    // One address is one peer: a node that restarts under a new id replaces its old entry.
    this.registerTransaction = this.db.transaction((entry: Omit<PeerEntry, "confirmedAt">) => {
      this.deleteSameAddress.run({ ip: entry.ip, port: entry.port, peerId: entry.peerId });
      this.upsertPeer.run({ peerId: entry.peerId, ip: entry.ip, port: entry.port, now: entry.lastSeen });
    });
  }

  /** Registers a peer or refreshes its last-seen time (the heartbeat); its confirmation stays unless its address changed. */
  register(entry: Omit<PeerEntry, "confirmedAt">): void {
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

  /** Records that `entry` (still at its address) was found there at `at`. */
  confirm(entry: { peerId: string; ip: string; port: number }, at: number): void {
    this.updateConfirmed.run({ peerId: entry.peerId, ip: entry.ip, port: entry.port, at });
  }

  /** Live peers other than `peerId` at `ip` confirmed since `confirmedSince`. */
  confirmedAtIp(ip: string, liveSince: number, confirmedSince: number, peerId: string): number {
    return this.countConfirmedAt.get(ip, liveSince, confirmedSince, peerId)?.count ?? 0;
  }

  /**
   * Up to `limit` live peers other than `peerId`: those confirmed since `confirmedSince` first, in random
   * order so joins spread over the ring, then, to fill the sample, a run of the others from a random row.
   */
  sampleOthers(peerId: string, liveSince: number, confirmedSince: number, limit: number): PeerEntry[] {
    const confirmed = this.selectConfirmed.all(peerId, liveSince, confirmedSince, limit);
    const missing = limit - confirmed.length;
    if (missing <= 0) return confirmed.map(fromRow);
    const start = Math.floor(Math.random() * ((this.selectTopRowid.get()?.top ?? 0) + 1));
    const others = this.selectUnconfirmedFrom.all(peerId, liveSince, confirmedSince, start, missing);
    if (others.length < missing) others.push(...this.selectUnconfirmedBefore.all(peerId, liveSince, confirmedSince, start, missing - others.length));
    return [...confirmed, ...others].map(fromRow);
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
  peer_id      TEXT PRIMARY KEY,
  ip           TEXT NOT NULL,
  port         INTEGER NOT NULL,
  first_seen   INTEGER NOT NULL,
  last_seen    INTEGER NOT NULL,
  confirmed_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS peers_last_seen ON peers (last_seen);
CREATE INDEX IF NOT EXISTS peers_address ON peers (ip, port);
`;

const COLUMNS = "peer_id, ip, port, last_seen, confirmed_at";

interface PeerRow {
  peer_id: string;
  ip: string;
  port: number;
  last_seen: number;
  confirmed_at: number;
}

function fromRow(row: PeerRow): PeerEntry {
  return { peerId: row.peer_id, ip: row.ip, port: row.port, lastSeen: row.last_seen, confirmedAt: row.confirmed_at };
}

/** A database written before confirmations existed gets the column (its peers start unconfirmed). */
function addConfirmedAt(db: Database): void {
  const columns = db.query<{ name: string }, []>("PRAGMA table_info(peers)").all();
  if (!columns.some((column) => column.name === "confirmed_at")) db.exec("ALTER TABLE peers ADD COLUMN confirmed_at INTEGER NOT NULL DEFAULT 0");
  db.exec("CREATE INDEX IF NOT EXISTS peers_confirmed ON peers (confirmed_at)");
}
