// The download queue kept in catalog.db's `queue` table: what a node restarted mid-download starts again by itself.

import type { Database } from "bun:sqlite";
import { openDatabase } from "../../sqlite";

const SCHEMA = `CREATE TABLE IF NOT EXISTS queue (
  out       TEXT PRIMARY KEY,
  ref       TEXT NOT NULL,
  force     INTEGER NOT NULL,
  no_share  INTEGER NOT NULL,
  paused    INTEGER NOT NULL,
  added_at  INTEGER NOT NULL
);`;

/** Rows read back at start: a damaged or hostile catalog cannot make a node start more downloads than this. */
export const MAX_QUEUED_DOWNLOADS = 1_000;

/** One download asked for and not ended: `ref` pins the id (`name@<id>`, or the link), `out` is where it goes. */
export interface QueuedDownload {
  out: string;
  ref: string;
  force: boolean;
  noShare: boolean;
  paused: boolean;
}

/** A row per download under way (foreground or detached), deleted when it ends; what is left after a crash or stop is resumed. */
export class QueueStore {
  private readonly db: Database;

  /** `path`: the node's catalog.db (a second connection; WAL lets both write). */
  constructor(path: string) {
    this.db = openDatabase(path, SCHEMA);
  }

  add(download: QueuedDownload): void {
    this.db
      .query("INSERT OR REPLACE INTO queue (out, ref, force, no_share, paused, added_at) VALUES (:out, :ref, :force, :noShare, :paused, :now)")
      .run({ out: download.out, ref: download.ref, force: download.force ? 1 : 0, noShare: download.noShare ? 1 : 0, paused: download.paused ? 1 : 0, now: Date.now() });
  }

  setPaused(out: string, paused: boolean): void {
    this.db.query("UPDATE queue SET paused = :paused WHERE out = :out").run({ out, paused: paused ? 1 : 0 });
  }

  remove(out: string): void {
    this.db.query("DELETE FROM queue WHERE out = ?").run(out);
  }

  /** In the order they were asked for. */
  all(): QueuedDownload[] {
    const rows = this.db
      .query<{ out: string; ref: string; force: number; no_share: number; paused: number }, [number]>("SELECT out, ref, force, no_share, paused FROM queue ORDER BY added_at LIMIT ?")
      .all(MAX_QUEUED_DOWNLOADS);
    return rows.map((row) => ({ out: row.out, ref: row.ref, force: row.force === 1, noShare: row.no_share === 1, paused: row.paused === 1 }));
  }

  close(): void {
    this.db.close();
  }
}
