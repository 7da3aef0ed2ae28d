// Bytes served per file, kept in catalog.db's `served` table, so SHARED's SERVED column survives a restart.

import type { Database } from "bun:sqlite";
import { openDatabase } from "../../sqlite";

const SCHEMA = `CREATE TABLE IF NOT EXISTS served (file_id TEXT PRIMARY KEY, bytes INTEGER NOT NULL);`;

/** Served bytes are written at most this often: a write per chunk would cost the upload path for nothing. */
export const SERVED_FLUSH_MS = 2_000;

/** The running totals by file id; adds are batched and written within SERVED_FLUSH_MS, and on close. */
export class ServedStore {
  private readonly db: Database;
  private readonly pending = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** `path`: the node's catalog.db (a second connection; WAL lets both write). */
  constructor(path: string) {
    this.db = openDatabase(path, SCHEMA);
  }

  /** Every file's total as stored. */
  load(): Map<string, number> {
    const rows = this.db.query<{ file_id: string; bytes: number }, []>("SELECT file_id, bytes FROM served").all();
    return new Map(rows.map((row) => [row.file_id, row.bytes]));
  }

  add(fileId: string, bytes: number): void {
    this.pending.set(fileId, (this.pending.get(fileId) ?? 0) + bytes);
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => this.flush(), SERVED_FLUSH_MS);
    this.timer.unref?.();
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const upsert = this.db.query("INSERT INTO served (file_id, bytes) VALUES (:id, :bytes) ON CONFLICT(file_id) DO UPDATE SET bytes = bytes + excluded.bytes");
    const entries = [...this.pending];
    this.pending.clear();
    this.db.transaction(() => {
      for (const [id, bytes] of entries) upsert.run({ id, bytes });
    })();
  }

  close(): void {
    this.flush();
    this.db.close();
  }
}
