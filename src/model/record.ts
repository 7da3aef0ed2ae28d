// A record entry: one member under one ring key, merged last-writer-wins, with tombstones; as stores keep it and links carry it.

import { isRingId, type RingId } from "./id";

/**
 * One member under one key. (key, member) is unique: a key holds several members, e.g. one per
 * holder of a file under key = hash(file name).
 */
export type RecordEntry = {
  key: RingId;
  member: string;
  value: string;
  /** Milliseconds; the newer write wins a merge. */
  updatedAt: number;
  /** Milliseconds; null never expires. A tombstone always has one. */
  expiresAt: number | null;
  /** A tombstone: kept until expiresAt so a late replica cannot bring the member back. */
  deleted: boolean;
  /** Base64 Ed25519 signature of the holder the member names, over every other field (see src/node/identity.ts). */
  signature?: string;
};

export function isLive(entry: RecordEntry, now: number): boolean {
  return !entry.deleted && (entry.expiresAt === null || entry.expiresAt > now);
}

/** Whether `value` has the shape of a record entry (for entries that arrived over the wire). */
export function isRecordEntry(value: unknown): value is RecordEntry {
  if (typeof value !== "object" || value === null) return false;
  const entry = value as Record<string, unknown>;
  return (
    isRingId(entry.key) &&
    typeof entry.member === "string" &&
    typeof entry.value === "string" &&
    Number.isFinite(entry.updatedAt) &&
    (entry.expiresAt === null || Number.isFinite(entry.expiresAt)) &&
    typeof entry.deleted === "boolean"
  );
}
