// The errors of a file that is not there: no such file (with close names only when they are close), no holder online, no such path.

import { statSync } from "node:fs";
import { P2PError, isP2PError } from "../../protocol/errors";
import type { FileSummary } from "../../model/reports";
import { foldText } from "./names";

/** Close matches offered when a name is not found. */
const MAX_SUGGESTIONS = 5;
/** How alike two names must be (1 - edit distance / length) to be offered: only near misses, not any shared letters. */
const MIN_SIMILARITY = 0.6;

/** NOT_FOUND for a name nobody announces: "no holder online" when this node saw it held, else close names if any. */
export async function notFound(name: string, idPrefix: string | null, list: () => Promise<FileSummary[]>, lastSeenAt?: number): Promise<P2PError> {
  if (idPrefix !== null) return new P2PError("NOT_FOUND", `no file named '${name}' has an id starting with ${idPrefix}`);
  if (lastSeenAt !== undefined) {
    return new P2PError("UNAVAILABLE", `no holder of '${name}' is online (last seen ${new Date(lastSeenAt).toISOString().replace(/\.\d+Z$/, "Z")}); try again later`);
  }
  const all = await list().catch(() => [] as FileSummary[]);
  if (all.some((file) => file.name === name)) {
    // Listed by its holders, yet its name's record is out of reach: suggesting the same name back would send the user in a circle.
    return new P2PError(
      "NOT_FOUND",
      `'${name}' is listed, but its record is not reachable from this node: its announcement has not spread yet, or its holders are in a part of the network this node cannot reach; try again in a few seconds`,
    );
  }
  const wanted = foldText(name);
  const close = all
    .map((file) => ({ file, score: similarity(wanted, foldText(file.name)) }))
    .filter((match) => match.score >= MIN_SIMILARITY)
    .sort((a, b) => b.score - a.score)
    .slice(0, MAX_SUGGESTIONS)
    .map((match) => match.file.name);
  const hint = close.length > 0 ? `; did you mean ${[...new Set(close)].map((candidate) => `'${candidate}'`).join(", ")}?` : "";
  return new P2PError("NOT_FOUND", `no file named '${name}' in the network${hint}`);
}

export function statOrThrow(path: string): { size: number; mtimeMs: number } {
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw new P2PError("MALFORMED", `${path} is a folder; this version shares files only: share the files in it one by one`);
    if (!stat.isFile()) throw P2PError.notAFile(path);
    return stat;
  } catch (error) {
    if (isP2PError(error)) throw error;
    const code = (error as { code?: string }).code;
    if (code === "ENOENT") throw new P2PError("NOT_FOUND", `no such file: ${path}`);
    if (code === "EACCES") throw new P2PError("MALFORMED", `no permission to read ${path}`);
    throw error;
  }
}

/** Similarity in [0, 1] from the edit distance; a name that contains the other (of 3+ letters) counts as close. */
function similarity(a: string, b: string): number {
  if (Math.min(a.length, b.length) >= 3 && (b.includes(a) || a.includes(b))) return 0.9;
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return 1 - row[b.length]! / Math.max(a.length, b.length, 1);
}
