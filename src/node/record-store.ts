// The node's records.db: the ring's (key, member) records on disk, merged last-writer-wins.

import type { Database, Statement } from "bun:sqlite";
import { openDatabase } from "../sqlite";
import type { RingId } from "./ring/id";
import type { RecordEntry, RecordStore } from "./ring/records";

/** Owns one SQLite file: WAL, statements prepared once, merges in one synchronous transaction. */
export class SqliteRecordStore implements RecordStore {
  private readonly db: Database;
  private readonly upsert: Statement;
  private readonly selectKey: Statement<RecordRow, [string, number]>;
  private readonly selectBetween: Statement<RecordRow, [string, string]>;
  private readonly selectOutside: Statement<RecordRow, [string, string]>;
  private readonly selectAll: Statement<RecordRow, []>;
  private readonly countAll: Statement<{ n: number }, []>;
  private readonly deleteExpired: Statement;
  private readonly mergeTransaction: (entries: readonly RecordEntry[]) => number;

  constructor(path: string) {
    this.db = openDatabase(path, SCHEMA);
    // The WHERE makes the write conditional: an older or equal update never replaces a newer one.
    this.upsert = this.db.prepare(
      `INSERT INTO records (key, member, value, updated_at, expires_at, deleted)
       VALUES ($key, $member, $value, $updatedAt, $expiresAt, $deleted)
       ON CONFLICT (key, member) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
         expires_at = excluded.expires_at, deleted = excluded.deleted
       WHERE excluded.updated_at > records.updated_at`,
    );
    this.selectKey = this.db.prepare(
      `SELECT * FROM records WHERE key = ?1 AND deleted = 0 AND (expires_at IS NULL OR expires_at > ?2) ORDER BY member`,
    );
    this.selectBetween = this.db.prepare("SELECT * FROM records WHERE key > ?1 AND key <= ?2");
    this.selectOutside = this.db.prepare("SELECT * FROM records WHERE key > ?1 OR key <= ?2");
    this.selectAll = this.db.prepare("SELECT * FROM records");
    this.countAll = this.db.prepare("SELECT count(*) AS n FROM records");
    this.deleteExpired = this.db.prepare("DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at <= ?");
    this.mergeTransaction = this.db.transaction((entries: readonly RecordEntry[]) => {
      let changed = 0;
      for (const entry of entries) {
        changed += this.upsert.run({
          key: entry.key,
          member: entry.member,
          value: entry.value,
          updatedAt: entry.updatedAt,
          expiresAt: entry.expiresAt,
          deleted: entry.deleted ? 1 : 0,
        }).changes;
      }
      return changed;
    });
  }

  merge(entries: readonly RecordEntry[]): number {
    return entries.length === 0 ? 0 : this.mergeTransaction(entries);
  }

  get(key: RingId, now: number): RecordEntry[] {
    return this.selectKey.all(key, now).map(fromRow);
  }

  // Fixed-width lowercase hex sorts as the numbers do, so an arc is one or two range scans.
  inRange(from: RingId, to: RingId): RecordEntry[] {
    if (from === to) return this.all();
    const rows = from < to ? this.selectBetween.all(from, to) : this.selectOutside.all(from, to);
    return rows.map(fromRow);
  }

  all(): RecordEntry[] {
    return this.selectAll.all().map(fromRow);
  }

  count(): number {
    return this.countAll.get()!.n;
  }

  pruneExpired(now: number): number {
    return this.deleteExpired.run(now).changes;
  }

  close(): void {
    this.db.close();
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  key        TEXT NOT NULL,
  member     TEXT NOT NULL,
  value      TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER,
  deleted    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (key, member)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_expires_at ON records (expires_at) WHERE expires_at IS NOT NULL;
`;

interface RecordRow {
  key: string;
  member: string;
  value: string;
  updated_at: number;
  expires_at: number | null;
  deleted: number;
}

function fromRow(row: RecordRow): RecordEntry {
  return {
    key: row.key,
    member: row.member,
    value: row.value,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
    deleted: row.deleted !== 0,
  };
}
