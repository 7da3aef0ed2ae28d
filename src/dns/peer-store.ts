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
  /** A dual-stack member's address in its other family (JOIN's `also`): listed by PEERS, never handed out by JOIN. */
  also: boolean;
}

/**
 * Owns one SQLite file: WAL, statements prepared once, every write in a synchronous transaction. The confirmed
 * peers are also kept in memory (`ConfirmedPeers`), so a JOIN samples them uniformly in a few steps instead of
 * sorting them all at random; every write here updates both.
 */
export class PeerStore {
  private readonly db: Database;
  private readonly confirmed = new ConfirmedPeers();
  /** Heartbeats not yet written: peer id -> last seen. Written together, in one transaction, before any read of the file needs them. */
  private readonly pendingSeen = new Map<string, number>();
  private readonly writeSeen: (entries: [string, number][]) => void;
  private readonly refreshPeer: Statement;
  private readonly selectAllConfirmed: Statement<PeerRow, []>;
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
  private readonly registerTransaction: (entry: NewPeer) => void;

  constructor(path: string) {
    this.db = openDatabase(path, SCHEMA);
    addConfirmedAt(this.db);
    addAlso(this.db);
    // A peer that moves to another address must prove itself there again.
    this.upsertPeer = this.db.prepare(
      `INSERT INTO peers (peer_id, ip, port, first_seen, last_seen, confirmed_at, also) VALUES ($peerId, $ip, $port, $now, $now, 0, $also)
       ON CONFLICT (peer_id) DO UPDATE SET ip = excluded.ip, port = excluded.port, last_seen = excluded.last_seen, also = excluded.also,
         confirmed_at = CASE WHEN peers.ip = excluded.ip AND peers.port = excluded.port THEN peers.confirmed_at ELSE 0 END`,
    );
    this.deleteSameAddress = this.db.prepare("DELETE FROM peers WHERE ip = $ip AND port = $port AND peer_id != $peerId");
    this.deletePeer = this.db.prepare("DELETE FROM peers WHERE peer_id = ?");
    this.selectLive = this.db.prepare(`SELECT ${COLUMNS} FROM peers WHERE last_seen >= ? ORDER BY peer_id`);
    this.selectConfirmed = this.db.prepare(
      `SELECT ${COLUMNS} FROM peers WHERE peer_id != ? AND also = 0 AND last_seen >= ? AND confirmed_at >= ? ORDER BY random() LIMIT ?`,
    );
    // The unconfirmed may be a flood of thousands: a run of them from a random row, not a sort of them all per JOIN.
    const unconfirmed = `SELECT ${COLUMNS} FROM peers WHERE peer_id != ? AND also = 0 AND last_seen >= ? AND confirmed_at < ?`;
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
    this.refreshPeer = this.db.prepare("UPDATE peers SET last_seen = $lastSeen WHERE peer_id = $peerId");
    this.selectAllConfirmed = this.db.prepare(`SELECT ${COLUMNS} FROM peers WHERE confirmed_at > 0`);
    // One address is one peer: a node that restarts under a new id replaces its old entry.
    this.registerTransaction = this.db.transaction((entry: NewPeer) => {
      this.deleteSameAddress.run({ ip: entry.ip, port: entry.port, peerId: entry.peerId });
      this.upsertPeer.run({ peerId: entry.peerId, ip: entry.ip, port: entry.port, now: entry.lastSeen, also: entry.also ? 1 : 0 });
    });
    this.writeSeen = this.db.transaction((entries: [string, number][]) => {
      for (const [peerId, lastSeen] of entries) this.refreshPeer.run({ peerId, lastSeen });
    });
    for (const row of this.selectAllConfirmed.all()) this.confirmed.set(fromRow(row));
  }

  /** Registers a peer or refreshes its last-seen time (the heartbeat); its confirmation stays unless its address changed. */
  register(entry: NewPeer): void {
    this.flushSeen();
    this.registerTransaction(entry);
    this.confirmed.deleteAt(entry.ip, entry.port, entry.peerId);
    const known = this.confirmed.get(entry.peerId);
    if (known !== undefined && (known.ip !== entry.ip || known.port !== entry.port)) this.confirmed.delete(entry.peerId);
    else if (known !== undefined) known.lastSeen = entry.lastSeen;
  }

  /**
   * A heartbeat of a peer registered at the same address: only its last-seen time changes. Written with the
   * next MAX_PENDING_HEARTBEATS - 1 others in one transaction (a crash loses only how recently they were seen).
   */
  refresh(peerId: string, lastSeen: number): void {
    this.pendingSeen.set(peerId, lastSeen);
    const known = this.confirmed.get(peerId);
    if (known !== undefined) known.lastSeen = lastSeen;
    if (this.pendingSeen.size >= MAX_PENDING_HEARTBEATS) this.flushSeen();
  }

  /** The peer registered under `peerId`, or null. */
  byId(peerId: string): PeerEntry | null {
    const row = this.selectById.get(peerId);
    if (!row) return null;
    const peer = fromRow(row);
    peer.lastSeen = Math.max(peer.lastSeen, this.pendingSeen.get(peerId) ?? 0);
    return peer;
  }

  /** The peers registered at `ip:port` (at most one unless the file was written by an older version). */
  atAddress(ip: string, port: number): PeerEntry[] {
    this.flushSeen();
    return this.selectByAddress.all(ip, port).map(fromRow);
  }

  /** Removes a peer; false when it was not registered. */
  remove(peerId: string): boolean {
    this.pendingSeen.delete(peerId);
    this.confirmed.delete(peerId);
    return this.deletePeer.run(peerId).changes > 0;
  }

  /** Records that `entry` (still at its address) was found there at `at`. */
  confirm(entry: { peerId: string; ip: string; port: number }, at: number): void {
    this.flushSeen();
    if (this.updateConfirmed.run({ peerId: entry.peerId, ip: entry.ip, port: entry.port, at }).changes === 0) return;
    const row = this.selectById.get(entry.peerId);
    if (row) this.confirmed.set(fromRow(row));
  }

  /** Live peers other than `peerId` at `ip` confirmed since `confirmedSince`. */
  confirmedAtIp(ip: string, liveSince: number, confirmedSince: number, peerId: string): number {
    this.flushSeen();
    return this.countConfirmedAt.get(ip, liveSince, confirmedSince, peerId)?.count ?? 0;
  }

  /**
   * Up to `limit` live peers other than `peerId`, none of them an `also` address: those confirmed since `confirmedSince` first, in random
   * order so joins spread over the ring, then, to fill the sample, a run of the others from a random row.
   */
  sampleOthers(peerId: string, liveSince: number, confirmedSince: number, limit: number): PeerEntry[] {
    let confirmed = this.confirmed.sample(limit, (peer) => peer.peerId !== peerId && !peer.also && peer.lastSeen >= liveSince && peer.confirmedAt >= confirmedSince).map(toRow);
    if (confirmed.length >= limit) return confirmed.map(fromRow);
    // Few confirmed peers (or most of them stale): the random probes found too few; ask the file, which then has few to sort.
    this.flushSeen();
    confirmed = this.selectConfirmed.all(peerId, liveSince, confirmedSince, limit);
    const missing = limit - confirmed.length;
    if (missing <= 0) return confirmed.map(fromRow);
    const start = Math.floor(Math.random() * ((this.selectTopRowid.get()?.top ?? 0) + 1));
    const others = this.selectUnconfirmedFrom.all(peerId, liveSince, confirmedSince, start, missing);
    if (others.length < missing) others.push(...this.selectUnconfirmedBefore.all(peerId, liveSince, confirmedSince, start, missing - others.length));
    return [...confirmed, ...others].map(fromRow);
  }

  live(liveSince: number): PeerEntry[] {
    this.flushSeen();
    return this.selectLive.all(liveSince).map(fromRow);
  }

  /** Deletes peers not heard from since `liveSince`; returns how many. */
  prune(liveSince: number): number {
    this.flushSeen();
    this.confirmed.deleteWhere((peer) => peer.lastSeen < liveSince);
    return this.deleteExpired.run(liveSince).changes;
  }

  close(): void {
    this.flushSeen();
    this.db.close();
  }

  private flushSeen(): void {
    if (this.pendingSeen.size === 0) return;
    this.writeSeen([...this.pendingSeen]);
    this.pendingSeen.clear();
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

const COLUMNS = "peer_id, ip, port, last_seen, confirmed_at, also";

/** What registering a peer writes: its confirmation is the DNS's own to give. */
type NewPeer = Omit<PeerEntry, "confirmedAt" | "also"> & { also?: boolean };

interface PeerRow {
  peer_id: string;
  ip: string;
  port: number;
  last_seen: number;
  confirmed_at: number;
  also: number;
}

function fromRow(row: PeerRow): PeerEntry {
  return { peerId: row.peer_id, ip: row.ip, port: row.port, lastSeen: row.last_seen, confirmedAt: row.confirmed_at, also: row.also === 1 };
}

function toRow(peer: PeerEntry): PeerRow {
  return { peer_id: peer.peerId, ip: peer.ip, port: peer.port, last_seen: peer.lastSeen, confirmed_at: peer.confirmedAt, also: peer.also ? 1 : 0 };
}

/** Heartbeats held before they are written in one transaction (most are written sooner, by the next read that needs them). */
const MAX_PENDING_HEARTBEATS = 512;

/** Random probes per peer a sample asks for, before the sample falls back to the file. */
const SAMPLE_PROBES_PER_PEER = 4;

/** The peers ever confirmed, in memory: an array for uniform random picks, maps to find one by id and by address. */
class ConfirmedPeers {
  private readonly list: PeerEntry[] = [];
  private readonly index = new Map<string, number>();
  private readonly byAddress = new Map<string, string>();

  get(peerId: string): PeerEntry | undefined {
    const at = this.index.get(peerId);
    return at === undefined ? undefined : this.list[at];
  }

  set(peer: PeerEntry): void {
    this.delete(peer.peerId);
    this.index.set(peer.peerId, this.list.length);
    this.list.push(peer);
    this.byAddress.set(addressKey(peer.ip, peer.port), peer.peerId);
  }

  delete(peerId: string): void {
    const at = this.index.get(peerId);
    if (at === undefined) return;
    const peer = this.list[at]!;
    if (this.byAddress.get(addressKey(peer.ip, peer.port)) === peerId) this.byAddress.delete(addressKey(peer.ip, peer.port));
    // Swap with the last so the array stays dense.
    const last = this.list.pop()!;
    this.index.delete(peerId);
    if (at < this.list.length) {
      this.list[at] = last;
      this.index.set(last.peerId, at);
    }
  }

  /** Forgets any other peer held at `ip:port` (one address is one peer). */
  deleteAt(ip: string, port: number, exceptPeerId: string): void {
    const holder = this.byAddress.get(addressKey(ip, port));
    if (holder !== undefined && holder !== exceptPeerId) this.delete(holder);
  }

  deleteWhere(matches: (peer: PeerEntry) => boolean): void {
    for (const peer of this.list.filter(matches)) this.delete(peer.peerId);
  }

  /** Up to `limit` distinct peers that pass `wanted`, each drawn uniformly at random; fewer when probes run out. */
  sample(limit: number, wanted: (peer: PeerEntry) => boolean): PeerEntry[] {
    const picked = new Map<string, PeerEntry>();
    for (let probe = 0; probe < limit * SAMPLE_PROBES_PER_PEER && picked.size < limit && this.list.length > 0; probe++) {
      const peer = this.list[Math.floor(Math.random() * this.list.length)]!;
      if (wanted(peer)) picked.set(peer.peerId, peer);
    }
    return [...picked.values()];
  }
}

function addressKey(ip: string, port: number): string {
  return `${ip} ${port}`;
}

/** A database written before confirmations existed gets the column (its peers start unconfirmed). */
function addConfirmedAt(db: Database): void {
  const columns = db.query<{ name: string }, []>("PRAGMA table_info(peers)").all();
  if (!columns.some((column) => column.name === "confirmed_at")) db.exec("ALTER TABLE peers ADD COLUMN confirmed_at INTEGER NOT NULL DEFAULT 0");
  db.exec("CREATE INDEX IF NOT EXISTS peers_confirmed ON peers (confirmed_at)");
}

/** A database written before dual-stack members registered their other address gets the column (every row a ring contact). */
function addAlso(db: Database): void {
  const columns = db.query<{ name: string }, []>("PRAGMA table_info(peers)").all();
  if (!columns.some((column) => column.name === "also")) db.exec("ALTER TABLE peers ADD COLUMN also INTEGER NOT NULL DEFAULT 0");
}
