// The node's records.db: the ring's (key, member) records on disk, merged last-writer-wins.

import type { Database, Statement } from "bun:sqlite";
import { P2PError } from "../protocol/errors";
import { openDatabase } from "../sqlite";
import type { RingId } from "../model/id";
import { MAX_RECORD_LIFETIME_MS } from "./ring/admission";
import { type QuotaLimits, RecordQuota, entrySize } from "./ring/record-quota";
import type { RecordCursor, RecordStore } from "./ring/records";
import type { RecordEntry } from "../model/record";

/**
 * Owns one SQLite file: WAL, statements prepared once, merges in one synchronous transaction.
 * Entries past the node's quota are refused: a merge keeps what fits, and fails with
 * UNAVAILABLE and the reason when nothing of it fits.
 */
export class SqliteRecordStore implements RecordStore {
  private readonly db: Database;
  private readonly quota: RecordQuota;
  private readonly selectStored: Statement<{ updated_at: number; size: number }, [string, string]>;
  private readonly countKey: Statement<{ n: number }, [string]>;
  private readonly selectSizes: Statement<{ key: string; member: string; size: number }, []>;
  private readonly selectExpiredSizes: Statement<{ key: string; member: string; size: number }, [number]>;
  private readonly upsert: Statement;
  private readonly selectKey: Statement<RecordRow, [string, number]>;
  private readonly selectBetween: Statement<RecordRow, [string, string]>;
  private readonly selectOutside: Statement<RecordRow, [string, string]>;
  private readonly selectAll: Statement<RecordRow, []>;
  private readonly selectLiveFirst: Statement<RecordRow, [number, number]>;
  private readonly selectLiveAfter: Statement<RecordRow, [string, string, number, number]>;
  private readonly countAll: Statement<{ n: number }, []>;
  private readonly deleteExpired: Statement;
  private readonly mergeTransaction: (entries: readonly RecordEntry[]) => { changed: number; refusal: string | null; refused: number };
  private readonly pruneTransaction: (now: number) => number;

  constructor(path: string, quotaLimits: Partial<QuotaLimits> = {}) {
    this.db = openDatabase(path, SCHEMA);
    // records.db files from before signed entries lack the column; their unsigned entries expire or are re-announced.
    if (!this.db.query<{ name: string }, []>("PRAGMA table_info(records)").all().some((column) => column.name === "signature")) {
      this.db.run("ALTER TABLE records ADD COLUMN signature TEXT");
    }
    // Entries stored before every record had to expire (a flood of never-expiring ones among them) now expire too.
    this.db.query("UPDATE records SET expires_at = updated_at + ?1 WHERE expires_at IS NULL").run(MAX_RECORD_LIFETIME_MS);
    this.quota = new RecordQuota(quotaLimits);
    // The WHERE makes the write conditional: an older or equal update never replaces a newer one.
    this.upsert = this.db.prepare(
      `INSERT INTO records (key, member, value, updated_at, expires_at, deleted, signature)
       VALUES ($key, $member, $value, $updatedAt, $expiresAt, $deleted, $signature)
       ON CONFLICT (key, member) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
         expires_at = excluded.expires_at, deleted = excluded.deleted, signature = excluded.signature
       WHERE excluded.updated_at > records.updated_at`,
    );
    this.selectKey = this.db.prepare(
      `SELECT * FROM records WHERE key = ?1 AND deleted = 0 AND (expires_at IS NULL OR expires_at > ?2) ORDER BY member`,
    );
    this.selectBetween = this.db.prepare("SELECT * FROM records WHERE key > ?1 AND key <= ?2");
    this.selectOutside = this.db.prepare("SELECT * FROM records WHERE key > ?1 OR key <= ?2");
    this.selectAll = this.db.prepare("SELECT * FROM records");
    // Scans in primary-key order from a cursor: a page costs its own rows, not a pass over the store.
    this.selectLiveFirst = this.db.prepare(
      "SELECT * FROM records WHERE deleted = 0 AND (expires_at IS NULL OR expires_at > ?1) ORDER BY key, member LIMIT ?2",
    );
    this.selectLiveAfter = this.db.prepare(
      "SELECT * FROM records WHERE (key, member) > (?1, ?2) AND deleted = 0 AND (expires_at IS NULL OR expires_at > ?3) ORDER BY key, member LIMIT ?4",
    );
    this.countAll = this.db.prepare("SELECT count(*) AS n FROM records");
    this.deleteExpired = this.db.prepare("DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at <= ?");
    this.selectStored = this.db.prepare("SELECT updated_at, length(member) + length(value) AS size FROM records WHERE key = ?1 AND member = ?2");
    this.countKey = this.db.prepare("SELECT count(*) AS n FROM records WHERE key = ?1");
    this.selectSizes = this.db.prepare("SELECT key, member, length(member) + length(value) AS size FROM records");
    this.selectExpiredSizes = this.db.prepare(
      "SELECT key, member, length(member) + length(value) AS size FROM records WHERE expires_at IS NOT NULL AND expires_at <= ?1",
    );
    for (const row of this.selectSizes.iterate()) this.quota.added(row.key, row.member, row.size);
    this.mergeTransaction = this.db.transaction((entries: readonly RecordEntry[]) => {
      let changed = 0;
      let refused = 0;
      let refusal: string | null = null;
      for (const entry of entries) {
        const stored = this.selectStored.get(entry.key, entry.member);
        if (stored !== null && entry.updatedAt <= stored.updated_at) continue; // last writer wins; ties keep ours
        const reason = this.quota.refusal(entry, stored?.size ?? null, stored === null ? this.countKey.get(entry.key)!.n : 0);
        if (reason !== null) {
          refused++;
          refusal = reason;
          continue;
        }
        this.upsert.run({
          key: entry.key,
          member: entry.member,
          value: entry.value,
          updatedAt: entry.updatedAt,
          expiresAt: entry.expiresAt,
          deleted: entry.deleted ? 1 : 0,
          signature: entry.signature ?? null,
        });
        if (stored === null) this.quota.added(entry.key, entry.member, entrySize(entry));
        else this.quota.replaced(entry.member, stored.size, entrySize(entry));
        changed++;
      }
      return { changed, refusal, refused };
    });
    this.pruneTransaction = this.db.transaction((now: number) => {
      const expired = this.selectExpiredSizes.all(now);
      for (const row of expired) this.quota.removed(row.key, row.member, row.size);
      return this.deleteExpired.run(now).changes;
    });
  }

  merge(entries: readonly RecordEntry[]): number {
    if (entries.length === 0) return 0;
    const { changed, refusal, refused } = this.mergeTransaction(entries);
    this.quota.refused += refused;
    if (refusal !== null && changed === 0) throw new P2PError("UNAVAILABLE", `${refused} of ${entries.length} records refused: ${refusal}`);
    return changed;
  }

  /** Records refused for the quota since this store was opened. */
  get refusedCount(): number {
    return this.quota.refused;
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

  liveAfter(after: RecordCursor | null, now: number, limit: number): RecordEntry[] {
    const rows = after === null ? this.selectLiveFirst.all(now, limit) : this.selectLiveAfter.all(after.key, after.member, now, limit);
    return rows.map(fromRow);
  }

  count(): number {
    return this.countAll.get()!.n;
  }

  pruneExpired(now: number): number {
    return this.pruneTransaction(now);
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
  signature  TEXT,
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
  signature: string | null;
}

function fromRow(row: RecordRow): RecordEntry {
  return {
    key: row.key,
    member: row.member,
    value: row.value,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
    deleted: row.deleted !== 0,
    ...(row.signature === null ? {} : { signature: row.signature }),
  };
}
