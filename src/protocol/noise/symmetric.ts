// Noise's CipherState and SymmetricState (spec rev 34, sections 5.1 and 5.2) for AESGCM and SHA256.

import { AuthenticationError, HASHLEN, KEYLEN, decrypt, encrypt, hash, hkdf } from "./primitives";

const EMPTY = new Uint8Array(0);

/** A key and its nonce counter; without a key it passes bytes through, as the handshake's first steps need. */
export class CipherState {
  private key: Uint8Array | null;
  private n = 0;

  constructor(key: Uint8Array | null = null) {
    this.key = key;
  }

  get hasKey(): boolean {
    return this.key !== null;
  }

  /** The next nonce (the link layer seals records with it directly, then calls `advance`). */
  get nonce(): number {
    return this.n;
  }

  /** The key, for the link layer's bulk path; null before one was set. */
  get keyBytes(): Uint8Array | null {
    return this.key;
  }

  initializeKey(key: Uint8Array | null): void {
    this.key = key;
    this.n = 0;
  }

  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (!this.key) return plaintext;
    const ciphertext = encrypt(this.key, this.n, ad, plaintext);
    this.advance();
    return ciphertext;
  }

  /** Throws AuthenticationError and leaves the counter where it was when the ciphertext does not verify. */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (!this.key) return ciphertext;
    const plaintext = decrypt(this.key, this.n, ad, ciphertext);
    this.advance();
    return plaintext;
  }

  /** Moves to the next nonce; 2^64-1 is reserved, and a counter this large would take centuries to reach. */
  advance(): void {
    if (this.n >= Number.MAX_SAFE_INTEGER) throw new AuthenticationError();
    this.n++;
  }
}

/** The chaining key and handshake hash every token of a handshake updates. */
export class SymmetricState {
  readonly cipher = new CipherState();
  private chainingKey: Uint8Array;
  private h: Uint8Array;

  constructor(protocolName: string) {
    const name = new TextEncoder().encode(protocolName);
    // A name of at most HASHLEN bytes is used as is, zero-padded; a longer one is hashed.
    if (name.length <= HASHLEN) {
      this.h = new Uint8Array(HASHLEN);
      this.h.set(name);
    } else {
      this.h = hash(name);
    }
    this.chainingKey = this.h;
  }

  get handshakeHash(): Uint8Array {
    return this.h;
  }

  mixKey(inputKeyMaterial: Uint8Array): void {
    const [chainingKey, tempKey] = hkdf(this.chainingKey, inputKeyMaterial, 2);
    this.chainingKey = chainingKey!;
    this.cipher.initializeKey(tempKey!.subarray(0, KEYLEN));
  }

  mixHash(data: Uint8Array): void {
    this.h = hash(this.h, data);
  }

  /** The `psk` token's step: the pre-shared key enters both the chaining key and the hash. */
  mixKeyAndHash(inputKeyMaterial: Uint8Array): void {
    const [chainingKey, tempHash, tempKey] = hkdf(this.chainingKey, inputKeyMaterial, 3);
    this.chainingKey = chainingKey!;
    this.mixHash(tempHash!);
    this.cipher.initializeKey(tempKey!.subarray(0, KEYLEN));
  }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipher.encryptWithAd(this.h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipher.decryptWithAd(this.h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** The two transport ciphers: the first for initiator-to-responder, the second for the way back. */
  split(): [CipherState, CipherState] {
    const [key1, key2] = hkdf(this.chainingKey, EMPTY, 2);
    return [new CipherState(key1!.subarray(0, KEYLEN)), new CipherState(key2!.subarray(0, KEYLEN))];
  }
}

export { AuthenticationError };
