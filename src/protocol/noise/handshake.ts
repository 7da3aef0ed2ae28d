// Noise's HandshakeState (spec rev 34, section 5.3) for the one pattern p2p uses: Noise_XXpsk3_25519_AESGCM_SHA256.

import { AuthenticationError, DHLEN, type KeyPair, TAGLEN, dh, generateKeyPair } from "./primitives";
import { type CipherState, SymmetricState } from "./symmetric";

export const PROTOCOL_NAME = "Noise_XXpsk3_25519_AESGCM_SHA256";

/** The pre-shared key's length (the network key). */
export const PSK_BYTES = 32;

type Token = "e" | "s" | "ee" | "es" | "se" | "psk";

/**
 * XXpsk3: both sides send an ephemeral and an (encrypted) static key; the network key enters after the
 * third message's DH, so message 3 only verifies for a responder holding the same key.
 *   -> e
 *   <- e, ee, s, es
 *   -> s, se, psk
 */
const MESSAGES: readonly (readonly Token[])[] = [["e"], ["e", "ee", "s", "es"], ["s", "se", "psk"]];

export interface HandshakeOptions {
  initiator: boolean;
  prologue: Uint8Array;
  psk: Uint8Array;
  /** This side's static key; a fresh one by default (p2p's nodes are authenticated by the psk alone, so a key per connection costs nothing in trust). */
  staticKey?: KeyPair;
  /** Fixed ephemeral key, for the published test vectors only. */
  ephemeralKey?: KeyPair;
}

/**
 * Message sizes of this pattern with empty payloads. In a psk handshake `e` also keys the cipher, so even
 * message 1's empty payload is sealed: e + tag; e + encrypted s + tag; encrypted s + tag.
 */
export const HANDSHAKE_MESSAGE_BYTES = [DHLEN + TAGLEN, DHLEN + DHLEN + TAGLEN + TAGLEN, DHLEN + TAGLEN + TAGLEN] as const;

export class HandshakeState {
  private readonly symmetric = new SymmetricState(PROTOCOL_NAME);
  private readonly initiator: boolean;
  private readonly psk: Uint8Array;
  private readonly s: KeyPair;
  private e: KeyPair | undefined;
  private re: Uint8Array | undefined;
  private rs: Uint8Array | undefined;
  private step = 0;

  constructor(options: HandshakeOptions) {
    if (options.psk.length !== PSK_BYTES) throw new RangeError(`the pre-shared key is ${PSK_BYTES} bytes, not ${options.psk.length}`);
    this.initiator = options.initiator;
    this.psk = options.psk;
    this.s = options.staticKey ?? generateKeyPair();
    this.e = options.ephemeralKey;
    this.symmetric.mixHash(options.prologue);
  }

  /** True once all three messages are written or read. */
  get isFinished(): boolean {
    return this.step === MESSAGES.length;
  }

  /** Whether the next message is ours to write. */
  get isMyTurn(): boolean {
    return !this.isFinished && (this.step % 2 === 0) === this.initiator;
  }

  get handshakeHash(): Uint8Array {
    return this.symmetric.handshakeHash;
  }

  /** The peer's static public key, once received. */
  get remoteStaticKey(): Uint8Array | undefined {
    return this.rs;
  }

  writeMessage(payload: Uint8Array): Uint8Array {
    if (!this.isMyTurn) throw new Error("not this side's turn to write a handshake message");
    const parts: Uint8Array[] = [];
    for (const token of MESSAGES[this.step]!) {
      if (token === "e") {
        this.e ??= generateKeyPair();
        parts.push(this.e.publicKey);
        this.mixEphemeral(this.e.publicKey);
      } else if (token === "s") {
        parts.push(this.symmetric.encryptAndHash(this.s.publicKey));
      } else {
        this.mixToken(token);
      }
    }
    parts.push(this.symmetric.encryptAndHash(payload));
    this.step++;
    return Buffer.concat(parts);
  }

  /** Returns the payload; throws AuthenticationError when the message does not verify (a wrong psk, at message 3). */
  readMessage(message: Uint8Array): Uint8Array {
    if (this.isFinished || this.isMyTurn) throw new Error("not this side's turn to read a handshake message");
    let offset = 0;
    const take = (length: number) => {
      if (offset + length > message.length) throw new AuthenticationError();
      const bytes = message.subarray(offset, offset + length);
      offset += length;
      return bytes;
    };
    for (const token of MESSAGES[this.step]!) {
      if (token === "e") {
        this.re = new Uint8Array(take(DHLEN));
        this.mixEphemeral(this.re);
      } else if (token === "s") {
        const sealed = take(this.symmetric.cipher.hasKey ? DHLEN + TAGLEN : DHLEN);
        this.rs = new Uint8Array(this.symmetric.decryptAndHash(sealed));
      } else {
        this.mixToken(token);
      }
    }
    const payload = this.symmetric.decryptAndHash(message.subarray(offset));
    this.step++;
    return payload;
  }

  /** After the last message: [cipher this side sends with, cipher it receives with]. */
  split(): { send: CipherState; receive: CipherState } {
    if (!this.isFinished) throw new Error("the handshake is not finished");
    const [initiatorToResponder, responderToInitiator] = this.symmetric.split();
    return this.initiator
      ? { send: initiatorToResponder, receive: responderToInitiator }
      : { send: responderToInitiator, receive: initiatorToResponder };
  }

  // In a psk handshake an ephemeral key also enters the chaining key (spec section 9.2).
  private mixEphemeral(publicKey: Uint8Array): void {
    this.symmetric.mixHash(publicKey);
    this.symmetric.mixKey(publicKey);
  }

  private mixToken(token: Exclude<Token, "e" | "s">): void {
    const local = (pair: KeyPair | undefined) => pair ?? missing();
    const remote = (key: Uint8Array | undefined) => key ?? missing();
    switch (token) {
      case "ee":
        this.symmetric.mixKey(dh(local(this.e), remote(this.re)));
        break;
      case "es":
        this.symmetric.mixKey(this.initiator ? dh(local(this.e), remote(this.rs)) : dh(this.s, remote(this.re)));
        break;
      case "se":
        this.symmetric.mixKey(this.initiator ? dh(this.s, remote(this.re)) : dh(local(this.e), remote(this.rs)));
        break;
      case "psk":
        this.symmetric.mixKeyAndHash(this.psk);
        break;
    }
  }
}

function missing(): never {
  throw new Error("handshake key missing: messages out of order");
}
