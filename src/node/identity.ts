// A node's long-lived Ed25519 key pair (identity.pem in its data dir, 0600): it signs the record entries that name this node as holder.

import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { P2PError } from "../protocol/errors";
import { PUBLIC_KEY_PATTERN } from "../model/public-key";
import type { RecordEntry } from "../model/record";

export const IDENTITY_FILE = "identity.pem";

export interface Identity {
  /** 64 hex digits. */
  readonly publicKey: string;
  /** The entry with its `signature` over every other field. */
  signEntry(entry: RecordEntry): RecordEntry;
}

/** Loads the node's key pair from `dataDir`, creating it (mode 0600) on first start. */
export function loadIdentity(dataDir: string): Identity {
  const path = join(dataDir, IDENTITY_FILE);
  let privateKey: KeyObject;
  try {
    if (existsSync(path)) {
      privateKey = createPrivateKey(readFileSync(path, "utf8"));
      if (privateKey.asymmetricKeyType !== "ed25519") throw new Error("not an Ed25519 private key");
    } else {
      privateKey = generateKeyPairSync("ed25519").privateKey;
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const temporary = `${path}.tmp`;
      writeFileSync(temporary, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });
      chmodSync(temporary, 0o600);
      renameSync(temporary, path);
    }
  } catch (error) {
    throw new P2PError("ERROR", `cannot load the node's key ${path}: ${(error as Error).message}`, { cause: error });
  }
  const publicKey = rawPublicKey(createPublicKey(privateKey));
  return {
    publicKey,
    signEntry: (entry) => ({ ...entry, signature: sign(null, signedBytes(entry), privateKey).toString("base64") }),
  };
}

/** Whether `entry.signature` is `publicKey`'s signature over the entry's fields. */
export function verifyEntry(entry: RecordEntry, publicKey: string): boolean {
  if (typeof entry.signature !== "string" || !PUBLIC_KEY_PATTERN.test(publicKey)) return false;
  try {
    return verify(null, signedBytes(entry), publicKeyObject(publicKey), Buffer.from(entry.signature, "base64"));
  } catch {
    return false; // a signature of the wrong length is simply not valid
  }
}

// ---- helpers ----------------------------------------------------------------------------------

/** What is signed: every field but the signature, in a fixed order. */
function signedBytes(entry: RecordEntry): Buffer {
  return Buffer.from(JSON.stringify(["p2p-record-v1", entry.key, entry.member, entry.value, entry.updatedAt, entry.expiresAt, entry.deleted]));
}

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw key is the 32 bytes after it.
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const publicKeys = new Map<string, KeyObject>();
const MAX_CACHED_KEYS = 10_000;

function rawPublicKey(key: KeyObject): string {
  return (key.export({ format: "der", type: "spki" }) as Buffer).subarray(SPKI_PREFIX.length).toString("hex");
}

function publicKeyObject(hex: string): KeyObject {
  let key = publicKeys.get(hex);
  if (!key) {
    if (publicKeys.size >= MAX_CACHED_KEYS) publicKeys.clear();
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(hex, "hex")]), format: "der", type: "spki" });
    publicKeys.set(hex, key);
  }
  return key;
}
