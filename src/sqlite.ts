// Opens a SQLite file the way every store in p2p wants it: created if missing, WAL, strict binding, schema applied.

import { Database } from "bun:sqlite";

/** WAL lets readers and the one writer proceed together; NORMAL sync is safe with WAL and much faster. */
export function openDatabase(path: string, schema: string): Database {
  const db = new Database(path, { create: true, strict: true });
  db.exec("PRAGMA journal_mode = WAL;");
  db.exec("PRAGMA synchronous = NORMAL;");
  db.exec("PRAGMA busy_timeout = 2000;");
  db.exec(schema);
  return db;
}
