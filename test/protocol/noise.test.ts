// The Noise handshake and ciphers against the published cacophony vector for Noise_XXpsk3_25519_AESGCM_SHA256.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HandshakeState, PROTOCOL_NAME } from "../../src/protocol/noise/handshake";
import { AuthenticationError, keyPairFromPrivate } from "../../src/protocol/noise/primitives";
import type { CipherState } from "../../src/protocol/noise/symmetric";

interface Vector {
  protocol_name: string;
  init_prologue: string;
  init_psks: string[];
  init_static: string;
  init_ephemeral: string;
  resp_prologue: string;
  resp_psks: string[];
  resp_static: string;
  resp_ephemeral: string;
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

const vector = JSON.parse(readFileSync(join(import.meta.dir, "../fixtures/noise-xxpsk3-25519-aesgcm-sha256.json"), "utf8")) as Vector;
const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, "hex"));
const hex = (data: Uint8Array) => Buffer.from(data).toString("hex");

function parties(respPsk = vector.resp_psks[0]!) {
  const initiator = new HandshakeState({
    initiator: true,
    prologue: bytes(vector.init_prologue),
    psk: bytes(vector.init_psks[0]!),
    staticKey: keyPairFromPrivate(bytes(vector.init_static)),
    ephemeralKey: keyPairFromPrivate(bytes(vector.init_ephemeral)),
  });
  const responder = new HandshakeState({
    initiator: false,
    prologue: bytes(vector.resp_prologue),
    psk: bytes(respPsk),
    staticKey: keyPairFromPrivate(bytes(vector.resp_static)),
    ephemeralKey: keyPairFromPrivate(bytes(vector.resp_ephemeral)),
  });
  return { initiator, responder };
}

describe("Noise_XXpsk3_25519_AESGCM_SHA256", () => {
  test("the fixture is the vector for the protocol p2p runs", () => {
    expect(vector.protocol_name).toBe(PROTOCOL_NAME);
  });

  test("every handshake message, the handshake hash and every transport message match the published vector byte for byte", () => {
    const { initiator, responder } = parties();
    // Handshake: messages alternate, the initiator's first.
    for (let index = 0; index < 3; index++) {
      const { payload, ciphertext } = vector.messages[index]!;
      const [writer, reader] = index % 2 === 0 ? [initiator, responder] : [responder, initiator];
      const written = writer.writeMessage(bytes(payload));
      expect(hex(written)).toBe(ciphertext);
      expect(hex(reader.readMessage(written))).toBe(payload);
    }
    expect(initiator.isFinished && responder.isFinished).toBe(true);
    expect(hex(initiator.handshakeHash)).toBe(vector.handshake_hash);
    expect(hex(responder.handshakeHash)).toBe(vector.handshake_hash);
    expect(hex(initiator.remoteStaticKey!)).toBe(hex(keyPairFromPrivate(bytes(vector.resp_static)).publicKey));

    // Transport: the alternation goes on, so message 4 is the responder's.
    const init = initiator.split();
    const resp = responder.split();
    const empty = new Uint8Array(0);
    for (let index = 3; index < vector.messages.length; index++) {
      const { payload, ciphertext } = vector.messages[index]!;
      const [sender, receiver]: [CipherState, CipherState] = index % 2 === 0 ? [init.send, resp.receive] : [resp.send, init.receive];
      const sealed = sender.encryptWithAd(empty, bytes(payload));
      expect(hex(sealed)).toBe(ciphertext);
      expect(hex(receiver.decryptWithAd(empty, sealed))).toBe(payload);
    }
  });

  test("a responder with another pre-shared key rejects the third message", () => {
    const { initiator, responder } = parties("00".repeat(32));
    responder.readMessage(initiator.writeMessage(new Uint8Array(0)));
    // Message 2 carries no psk yet: the initiator cannot tell.
    initiator.readMessage(responder.writeMessage(new Uint8Array(0)));
    const third = initiator.writeMessage(new Uint8Array(0));
    expect(() => responder.readMessage(third)).toThrow(AuthenticationError);
  });

  test("a transport message changed on the way does not decrypt", () => {
    const { initiator, responder } = parties();
    responder.readMessage(initiator.writeMessage(new Uint8Array(0)));
    initiator.readMessage(responder.writeMessage(new Uint8Array(0)));
    responder.readMessage(initiator.writeMessage(new Uint8Array(0)));
    const sealed = initiator.split().send.encryptWithAd(new Uint8Array(0), new TextEncoder().encode("PING"));
    sealed[0]! ^= 1;
    expect(() => responder.split().receive.decryptWithAd(new Uint8Array(0), sealed)).toThrow(AuthenticationError);
  });
});
