// Opens a SQLite file the way every store in p2p wants it: created if missing, WAL, strict binding, schema applied.

import { Database } from "bun:sqlite";
import { P2PError } from "./protocol/errors";

/** SQLite's own codes for a file that is not a database, or one whose pages are damaged. */
const DAMAGED_CODES = new Set(["SQLITE_NOTADB", "SQLITE_CORRUPT"]);
/** What to do with a damaged file, unless its store says better. */
const DEFAULT_ADVICE = "move it aside (rename it) and start again: a new, empty one is created in its place";

/**
 * WAL lets readers and the one writer proceed together; NORMAL sync is safe with WAL and much faster.
 * A file that is not a database, or is damaged, is an error naming the file and `advice` (what to do
 * and what is lost), never SQLite's bare "file is not a database".
 */
export function openDatabase(path: string, schema: string, advice = DEFAULT_ADVICE): Database {
  let db: Database | null = null;
  try {
    db = new Database(path, { create: true, strict: true });
    db.exec("PRAGMA journal_mode = WAL;");
    db.exec("PRAGMA synchronous = NORMAL;");
    db.exec("PRAGMA busy_timeout = 2000;");
    db.exec(schema);
    return db;
  } catch (error) {
    db?.close();
    throw damagedDatabase(error, path, advice) ?? error;
  }
}

/** The error to show for `error` if it says the database at `path` is damaged, else null. */
export function damagedDatabase(error: unknown, path: string, advice = DEFAULT_ADVICE): P2PError | null {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string" || !DAMAGED_CODES.has(code)) return null;
  return new P2PError("ERROR", `${path} is damaged (${(error as Error).message}); ${advice}`, { cause: error });
}
