// Record entries on the ring link: how many one message carries, each checked field by field on arrival, and cut into batches a receiver accepts.

import { P2PError } from "../protocol/errors";
import { isRingId } from "../model/id";
import type { RecordEntry } from "../model/record";

/** Most record entries one PUT_RECORDS or reply may carry; bigger hand-overs are sent in batches. */
export const MAX_RECORDS_PER_MESSAGE = 2_000;
/**
 * Most bytes of encoded entries one PUT_RECORDS or GET_RECORDS reply carries, well under the 16 MiB
 * frame limit: 2,000 entries with values near the 64 KiB an entry may hold would be 128 MiB.
 */
export const MAX_RECORD_MESSAGE_BYTES = 8 * 1024 * 1024;
/** Longest `signature` a record entry may carry (an Ed25519 signature is 88 base64 characters). */
export const MAX_SIGNATURE_LENGTH = 128;

/** Validates a JSON array of record entries field by field; a peer's bad data is rejected, never stored. */
export function parseRecordEntries(value: unknown, maxEntries = MAX_RECORDS_PER_MESSAGE): RecordEntry[] {
  if (!Array.isArray(value)) throw new P2PError("MALFORMED", "records must be a JSON array");
  if (value.length > maxEntries) {
    throw new P2PError("MALFORMED", `${value.length} records in one message, at most ${maxEntries}`);
  }
  return value.map((item, index) => {
    const entry = item as Record<string, unknown>;
    const ok =
      typeof entry === "object" &&
      entry !== null &&
      isRingId(entry.key) &&
      typeof entry.member === "string" &&
      entry.member.length <= 1024 &&
      typeof entry.value === "string" &&
      entry.value.length <= 64 * 1024 &&
      Number.isSafeInteger(entry.updatedAt) &&
      (entry.expiresAt === null || Number.isSafeInteger(entry.expiresAt)) &&
      typeof entry.deleted === "boolean" &&
      (entry.signature === undefined || (typeof entry.signature === "string" && entry.signature.length <= MAX_SIGNATURE_LENGTH));
    if (!ok) throw new P2PError("MALFORMED", `record ${index} is not a valid entry`);
    return {
      key: entry.key as string,
      member: entry.member as string,
      value: entry.value as string,
      updatedAt: entry.updatedAt as number,
      expiresAt: entry.expiresAt as number | null,
      deleted: entry.deleted as boolean,
      ...(entry.signature === undefined ? {} : { signature: entry.signature as string }),
    };
  });
}

/** `entries` cut into messages of at most MAX_RECORDS_PER_MESSAGE entries and MAX_RECORD_MESSAGE_BYTES encoded bytes. */
export function recordBatches(entries: RecordEntry[]): RecordEntry[][] {
  const batches: RecordEntry[][] = [];
  let batch: RecordEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = encodedSize(entry);
    if (batch.length > 0 && (batch.length >= MAX_RECORDS_PER_MESSAGE || bytes + size > MAX_RECORD_MESSAGE_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(entry);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** As many of `entries` as one message holds, newest writes first. */
export function newestThatFit(entries: RecordEntry[]): RecordEntry[] {
  if (entries.length <= MAX_RECORDS_PER_MESSAGE && entries.reduce((sum, entry) => sum + encodedSize(entry), 0) <= MAX_RECORD_MESSAGE_BYTES) return entries;
  return recordBatches([...entries].sort((a, b) => b.updatedAt - a.updatedAt))[0] ?? [];
}

function encodedSize(entry: RecordEntry): number {
  return Buffer.byteLength(JSON.stringify(entry)) + 1;
}

/** A sender's own limit: a batch the receiver would refuse is a bug here, not there. */
export function checkBatch(entries: RecordEntry[]): RecordEntry[] {
  if (entries.length > MAX_RECORDS_PER_MESSAGE) {
    throw new P2PError("MALFORMED", `${entries.length} records in one PUT_RECORDS, at most ${MAX_RECORDS_PER_MESSAGE}: send them in batches`);
  }
  return entries;
}
