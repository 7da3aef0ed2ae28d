// The records of a private link (src/protocol/secure-link.ts): length-prefixed handshake messages, then AES-GCM records.

import { createCipheriv, createDecipheriv } from "node:crypto";
import { MAX_RECORD_BYTES } from "../limits";
import { AuthenticationError, TAGLEN, nonce } from "./primitives";
import type { CipherState } from "./symmetric";

/** Bytes of the big-endian length before every handshake message and record. */
export const LENGTH_PREFIX = 2;
/** Plaintext bytes one record carries at most. */
export const MAX_RECORD_PLAINTEXT = MAX_RECORD_BYTES - TAGLEN;

/** A handshake message on the wire: its length as two big-endian bytes, then the message. */
export function lengthPrefixed(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(LENGTH_PREFIX + message.length);
  out[0] = message.length >> 8;
  out[1] = message.length & 0xff;
  out.set(message, LENGTH_PREFIX);
  return out;
}

/**
 * Seals the parts as one stream cut into records of at most MAX_RECORD_PLAINTEXT bytes, into one buffer
 * (one socket write, not one per record). No parts at all make one empty record (the confirmation).
 * A record may span parts: GCM takes its plaintext in pieces, so the parts are never joined first.
 */
export function sealRecords(cipher: CipherState, parts: readonly Uint8Array[]): Uint8Array {
  const key = cipher.keyBytes!;
  let total = 0;
  for (const part of parts) total += part.length;
  const records = Math.max(1, Math.ceil(total / MAX_RECORD_PLAINTEXT));
  const out = Buffer.allocUnsafe(total + records * (LENGTH_PREFIX + TAGLEN));
  let partIndex = 0;
  let partOffset = 0;
  let at = 0;
  let remaining = total;
  for (let record = 0; record < records; record++) {
    const size = Math.min(remaining, MAX_RECORD_PLAINTEXT);
    out.writeUInt16BE(size + TAGLEN, at);
    at += LENGTH_PREFIX;
    const gcm = createCipheriv("aes-256-gcm", key, nonce(cipher.nonce));
    cipher.advance();
    let need = size;
    while (need > 0) {
      const part = parts[partIndex]!;
      const take = Math.min(need, part.length - partOffset);
      if (take > 0) {
        const sealed = gcm.update(part.subarray(partOffset, partOffset + take));
        out.set(sealed, at);
        at += sealed.length;
        need -= take;
        partOffset += take;
      }
      if (partOffset === part.length) {
        partIndex++;
        partOffset = 0;
      }
    }
    const rest = gcm.final();
    out.set(rest, at);
    at += rest.length;
    out.set(gcm.getAuthTag(), at);
    at += TAGLEN;
    remaining -= size;
  }
  return out;
}

/** One transport record's plaintext; AuthenticationError when it does not verify. */
export function openRecord(cipher: CipherState, record: Uint8Array): Uint8Array {
  const gcm = createDecipheriv("aes-256-gcm", cipher.keyBytes!, nonce(cipher.nonce));
  gcm.setAuthTag(record.subarray(record.length - TAGLEN));
  const plaintext = gcm.update(record.subarray(0, record.length - TAGLEN));
  try {
    gcm.final();
  } catch {
    throw new AuthenticationError();
  }
  cipher.advance();
  return plaintext;
}
