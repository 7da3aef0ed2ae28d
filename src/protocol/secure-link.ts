// The private network's secure channel under the framing: a Noise_XXpsk3 handshake, then every byte in AES-GCM records.

import type { LinkIo, LinkLayer } from "./link-layer";
import { P2PError } from "./errors";
import { HANDSHAKE_TIMEOUT_MS } from "./limits";
import { HANDSHAKE_MESSAGE_BYTES, HandshakeState } from "./noise/handshake";
import { AuthenticationError, TAGLEN } from "./noise/primitives";
import { LENGTH_PREFIX, lengthPrefixed, openRecord, sealRecords } from "./noise/records";
import type { CipherState } from "./noise/symmetric";

/**
 * The one clear-text line of a private link: the initiator sends it before Noise message 1. It is also the
 * handshake's prologue, so it cannot be changed on the way. It reads as a request line on purpose: a node
 * without a key answers it at once (400 UNKNOWN OPERATION), which is no handshake message, so the keyed
 * side knows it reached an open node without waiting for a timeout.
 */
export const PREAMBLE = new TextEncoder().encode("P2P/1 NOISE_XXpsk3_25519_AESGCM_SHA256\n");

const EMPTY = new Uint8Array(0);

export interface SecureLinkOptions {
  /** The network key: the handshake's pre-shared key. */
  key: Uint8Array;
  /** The side that connected (true) or accepted (false). */
  initiator: boolean;
  /** "ip:port" of the other side, for messages. */
  peer: string;
  /** Responder only: called once when the peer turns out not to hold the key, for the one log line. */
  onRefused?: (peer: string) => void;
  handshakeTimeoutMs?: number;
}

type State =
  | "preamble" // responder: waits for the clear-text line
  | "hello" // responder: waits for message 1
  | "finish" // responder: waits for message 3
  | "reply" // initiator: waits for message 2
  | "confirm" // initiator: waits for the responder's first (empty) record
  | "open"
  | "closed";

/**
 * One connection's cipher layer. Until the handshake is done nothing the framing writes leaves: it is held
 * here and sealed once the peer proved it holds the key, so an outsider never sees a byte of the protocol.
 * The initiator counts the link open only when the responder's empty confirmation record decrypts: with a
 * wrong key the responder fails message 3 and hangs up, and `ready` rejects instead of a request hanging.
 */
export class SecureLink implements LinkLayer {
  /** Resolves when both sides proved they hold the key; rejects with the reason the link failed. */
  readonly ready: Promise<void>;
  private readonly options: SecureLinkOptions;
  private readonly handshake: HandshakeState;
  private state: State;
  private send: CipherState | null = null;
  private receiveCipher: CipherState | null = null;
  private held: Uint8Array[] = [];
  private io: LinkIo | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private resolveReady: () => void = () => {};
  private rejectReady: (error: P2PError) => void = () => {};
  // Record reassembly: the length prefix may arrive split, a record across many reads.
  private readonly prefix = new Uint8Array(LENGTH_PREFIX);
  private prefixFilled = 0;
  private record: Uint8Array | null = null;
  private recordFilled = 0;
  /** Where a record split over reads is gathered; kept and reused, as large as the largest such record so far. */
  private gather: Uint8Array | null = null;
  private preambleMatched = 0;

  constructor(options: SecureLinkOptions) {
    this.options = options;
    this.handshake = new HandshakeState({ initiator: options.initiator, prologue: PREAMBLE, psk: options.key });
    this.state = options.initiator ? "reply" : "preamble";
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Whoever awaits `ready` sees the failure; nobody awaiting it is fine too (the server side).
    this.ready.catch(() => {});
  }

  get isOpen(): boolean {
    return this.state === "open";
  }

  start(io: LinkIo): void {
    this.io = io;
    const timeoutMs = this.options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
    this.timer = setTimeout(() => io.fail(this.timedOut(timeoutMs)), timeoutMs);
    this.timer.unref?.();
    if (this.options.initiator) io.send(Buffer.concat([PREAMBLE, lengthPrefixed(this.handshake.writeMessage(EMPTY))]));
  }

  seal(parts: readonly Uint8Array[]): Uint8Array[] {
    if (this.state === "closed") return [];
    if (this.state !== "open") {
      for (const part of parts) if (part.length > 0) this.held.push(part);
      return [];
    }
    return [sealRecords(this.send!, parts)];
  }

  receive(chunk: Uint8Array): Uint8Array[] {
    const plaintext: Uint8Array[] = [];
    let offset = 0;
    while (offset < chunk.length && this.state !== "closed") {
      if (this.state === "preamble") {
        // Byte by byte: a clear-text request differs within its first few bytes and is refused there.
        if (chunk[offset++] !== PREAMBLE[this.preambleMatched++]) throw this.refuse("sent something other than the handshake");
        if (this.preambleMatched === PREAMBLE.length) this.state = "hello";
        continue;
      }
      if (this.record === null) {
        let length: number;
        if (this.prefixFilled === 0 && chunk.length - offset >= LENGTH_PREFIX) {
          length = (chunk[offset]! << 8) | chunk[offset + 1]!;
          offset += LENGTH_PREFIX;
        } else {
          this.prefix[this.prefixFilled++] = chunk[offset++]!;
          if (this.prefixFilled < LENGTH_PREFIX) continue;
          this.prefixFilled = 0;
          length = (this.prefix[0]! << 8) | this.prefix[1]!;
        }
        this.checkLength(length);
        if (chunk.length - offset >= length) {
          // The whole record is in this read: decrypt it in place, no copy.
          this.onRecord(chunk.subarray(offset, offset + length), plaintext);
          offset += length;
          continue;
        }
        // Reused: a record is decrypted into a new buffer, so its bytes are not needed once it is opened.
        if (!this.gather || this.gather.length < length) this.gather = new Uint8Array(length);
        this.record = this.gather.subarray(0, length);
        this.recordFilled = 0;
      }
      const take = Math.min(this.record.length - this.recordFilled, chunk.length - offset);
      this.record.set(chunk.subarray(offset, offset + take), this.recordFilled);
      this.recordFilled += take;
      offset += take;
      if (this.recordFilled === this.record.length) {
        const record = this.record;
        this.record = null;
        this.onRecord(record, plaintext);
      }
    }
    return plaintext;
  }

  close(reason: P2PError | null): void {
    clearTimeout(this.timer);
    const previous = this.state;
    const wasOpen = previous === "open";
    this.state = "closed";
    this.held = [];
    this.record = null;
    this.gather = null;
    if (wasOpen) return;
    if (reason && reason.code !== "CLOSED") return this.rejectReady(reason);
    // A responder with any key answers message 1 (the key counts from message 3 on): a hang-up before that
    // answer is a peer closing or stopping, not a key mismatch.
    if (previous === "reply") {
      return this.rejectReady(new P2PError("CLOSED", `${this.options.peer} closed the connection before answering the handshake (is it stopping?)`));
    }
    // A hang-up later in the handshake is how a responder with another key answers our message 3.
    this.rejectReady(this.mismatch("closed the connection during the handshake"));
  }

  /** Refuses a record length before its bytes arrive: a clear-text peer shows in its first two bytes. */
  private checkLength(length: number): void {
    const expected = this.expectedHandshakeBytes();
    if (expected !== null) {
      if (length !== expected) throw this.refuse(this.options.initiator ? "answered with something other than the handshake" : "sent something other than the handshake");
    } else if (length < TAGLEN) {
      throw new P2PError("MALFORMED", `${this.options.peer} sent a record of ${length} bytes, shorter than its tag`);
    }
  }

  private expectedHandshakeBytes(): number | null {
    switch (this.state) {
      case "hello":
        return HANDSHAKE_MESSAGE_BYTES[0];
      case "reply":
        return HANDSHAKE_MESSAGE_BYTES[1];
      case "finish":
        return HANDSHAKE_MESSAGE_BYTES[2];
      default:
        return null;
    }
  }

  private onRecord(record: Uint8Array, plaintext: Uint8Array[]): void {
    try {
      switch (this.state) {
        case "hello": {
          if (this.handshake.readMessage(record).length !== 0) throw new AuthenticationError();
          this.io!.send(lengthPrefixed(this.handshake.writeMessage(EMPTY)));
          this.state = "finish";
          return;
        }
        case "finish": {
          this.handshake.readMessage(record);
          this.takeCiphers();
          // The confirmation: proof for the initiator that we hold the key too.
          this.io!.send(sealRecords(this.send!, []));
          this.open();
          return;
        }
        case "reply": {
          this.handshake.readMessage(record);
          this.io!.send(lengthPrefixed(this.handshake.writeMessage(EMPTY)));
          this.takeCiphers();
          this.state = "confirm";
          return;
        }
        case "confirm": {
          if (openRecord(this.receiveCipher!, record).length !== 0) throw new AuthenticationError();
          this.open();
          return;
        }
        case "open": {
          const bytes = openRecord(this.receiveCipher!, record);
          if (bytes.length > 0) plaintext.push(bytes);
          return;
        }
      }
    } catch (error) {
      if (this.state !== "open") throw this.refuse("failed the handshake");
      if (error instanceof AuthenticationError) throw new P2PError("MALFORMED", `${this.options.peer} sent a record that fails authentication (changed on the way?)`);
      throw error;
    }
  }

  private takeCiphers(): void {
    const { send, receive } = this.handshake.split();
    this.send = send;
    this.receiveCipher = receive;
  }

  private open(): void {
    this.state = "open";
    clearTimeout(this.timer);
    const held = this.held;
    this.held = [];
    if (held.length > 0) this.io!.send(sealRecords(this.send!, held));
    this.resolveReady();
  }

  /** The peer does not hold the key: the responder logs it once; the error ends the connection, nothing sent. */
  private refuse(what: string): P2PError {
    if (!this.options.initiator) this.options.onRefused?.(this.options.peer);
    const error = this.mismatch(what);
    this.rejectReady(error);
    return error;
  }

  private mismatch(what: string): P2PError {
    return new P2PError("REFUSED", `${this.options.peer} ${what}: it does not use this network's key (--key)`);
  }

  private timedOut(timeoutMs: number): P2PError {
    return new P2PError("TIMEOUT", `${this.options.peer} did not complete the private-network handshake within ${timeoutMs} ms; does it use this network's key (--key)?`);
  }
}
