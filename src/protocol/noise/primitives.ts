// The crypto functions of Noise_*_25519_AESGCM_SHA256 (spec rev 34, sections 4 and 12), on node:crypto alone.

import {
  type KeyObject,
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
} from "node:crypto";

/** X25519 public keys and shared secrets. */
export const DHLEN = 32;
/** SHA-256 output. */
export const HASHLEN = 32;
/** AES-256-GCM key. */
export const KEYLEN = 32;
/** AES-GCM authentication tag appended to every ciphertext. */
export const TAGLEN = 16;

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: Uint8Array;
}

/** Decryption failed: wrong key, or bytes changed on the way. */
export class AuthenticationError extends Error {
  constructor() {
    super("authentication failed");
    this.name = "AuthenticationError";
  }
}

export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  return { privateKey, publicKey: rawPublicKey(publicKey) };
}

/** A key pair from a raw 32-byte X25519 private key (the test vectors give keys this way). */
export function keyPairFromPrivate(raw: Uint8Array): KeyPair {
  if (raw.length !== DHLEN) throw new RangeError(`an X25519 private key is ${DHLEN} bytes, not ${raw.length}`);
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, raw]), format: "der", type: "pkcs8" });
  return { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) };
}

/** DH(key pair, public key): the X25519 shared secret. Throws on a public key of low order. */
export function dh(pair: KeyPair, publicKey: Uint8Array): Uint8Array {
  const peer = createPublicKey({ key: Buffer.concat([SPKI_X25519_PREFIX, publicKey]), format: "der", type: "spki" });
  return diffieHellman({ privateKey: pair.privateKey, publicKey: peer });
}

export function hash(...parts: Uint8Array[]): Uint8Array {
  const digest = createHash("sha256");
  for (const part of parts) digest.update(part);
  return digest.digest();
}

export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const mac = createHmac("sha256", key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/** Noise's HKDF (section 4.3): two or three outputs of HASHLEN bytes chained from one HMAC key. */
export function hkdf(chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, outputs: 2 | 3): Uint8Array[] {
  const tempKey = hmac(chainingKey, inputKeyMaterial);
  const output1 = hmac(tempKey, ONE);
  const output2 = hmac(tempKey, output1, TWO);
  return outputs === 2 ? [output1, output2] : [output1, output2, hmac(tempKey, output2, THREE)];
}

/** AESGCM's 96-bit nonce: 32 zero bits, then the counter as a 64-bit big-endian number. */
export function nonce(n: number): Buffer {
  const bytes = Buffer.alloc(12);
  bytes.writeUInt32BE(Math.floor(n / 0x1_0000_0000), 4);
  bytes.writeUInt32BE(n >>> 0, 8);
  return bytes;
}

/** ENCRYPT(k, n, ad, plaintext): ciphertext followed by its 16-byte tag. */
export function encrypt(key: Uint8Array, n: number, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const cipher = createCipheriv("aes-256-gcm", key, nonce(n));
  cipher.setAAD(ad);
  const body = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([body, cipher.getAuthTag()]);
}

/** DECRYPT(k, n, ad, ciphertext): the plaintext, or AuthenticationError. */
export function decrypt(key: Uint8Array, n: number, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  if (ciphertext.length < TAGLEN) throw new AuthenticationError();
  const decipher = createDecipheriv("aes-256-gcm", key, nonce(n));
  decipher.setAAD(ad);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - TAGLEN));
  const plaintext = decipher.update(ciphertext.subarray(0, ciphertext.length - TAGLEN));
  try {
    decipher.final();
  } catch {
    throw new AuthenticationError();
  }
  return plaintext;
}

// DER wrappers around a raw X25519 key (RFC 8410), so node:crypto can import the 32 bytes.
const PKCS8_X25519_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_X25519_PREFIX = Buffer.from("302a300506032b656e032100", "hex");
const ONE = Uint8Array.of(1);
const TWO = Uint8Array.of(2);
const THREE = Uint8Array.of(3);

function rawPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(der.length - DHLEN));
}
