// The frame decoder and encoders: any cut of the byte stream yields the same frames, and every limit holds.

import { describe, expect, test } from "bun:test";
import { P2PError } from "../../src/protocol/errors";
import { decodeArg, encodeArg } from "../../src/protocol/escape";
import {
  type FrameLimits,
  decodeLines,
  encodeLines,
  encodeRequest,
  encodeResponse,
  requestDecoder,
  responseDecoder,
} from "../../src/protocol/frame";

const bytes = (text: string) => new TextEncoder().encode(text);
const join = (parts: Uint8Array[]) => Buffer.concat(parts);

describe("request frames", () => {
  test("a request split into single bytes is reassembled", () => {
    const decoder = requestDecoder(new Set());
    const wire = bytes("JOIN 123 127.0.0.2\r\n");
    const frames = [...wire].flatMap((byte) => decoder.push(Uint8Array.of(byte)));
    expect(frames.map((frame) => frame.head)).toEqual([{ op: "JOIN", args: ["123", "127.0.0.2"] }]);
  });

  test("many requests in one read come out in order", () => {
    const decoder = requestDecoder(new Set());
    const frames = decoder.push(bytes("PEERS\r\nPING\r\nLEAVE 7\r\n"));
    expect(frames.map((frame) => frame.head.op)).toEqual(["PEERS", "PING", "LEAVE"]);
  });

  test("a bare LF ends a line for people typing into nc", () => {
    const frames = requestDecoder(new Set()).push(bytes("ping\n"));
    expect(frames[0]!.head).toEqual({ op: "PING", args: [] });
  });

  test("a request body containing CRLF is taken by length, not by line", () => {
    const body = bytes("line one\r\nPEERS\r\n\r\n");
    const wire = join(encodeRequest("PUT", ["a key"], body));
    const decoder = requestDecoder(new Set(["PUT"]));
    const frames = [...wire].flatMap((byte) => decoder.push(Uint8Array.of(byte)));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.head).toEqual({ op: "PUT", args: ["a key"] });
    expect(Buffer.from(frames[0]!.body).equals(Buffer.from(body))).toBe(true);
  });

  test("a line over the length limit is rejected before it is buffered whole", () => {
    const limits: FrameLimits = { maxLineBytes: 64, maxArgs: 4, maxBodyBytes: 1024 };
    const decoder = requestDecoder(new Set(), limits);
    expect(() => decoder.push(bytes("X".repeat(65)))).toThrow(/longer than 64 bytes/);
  });

  test("too many arguments are rejected", () => {
    const limits: FrameLimits = { maxLineBytes: 1024, maxArgs: 2, maxBodyBytes: 1024 };
    expect(() => requestDecoder(new Set(), limits).push(bytes("JOIN a b c\r\n"))).toThrow(/at most 2/);
  });

  test("a body over the size limit is rejected from its declared length", () => {
    const limits: FrameLimits = { maxLineBytes: 1024, maxArgs: 4, maxBodyBytes: 10 };
    expect(() => requestDecoder(new Set(["PUT"]), limits).push(bytes("PUT k 11\r\n"))).toThrow(/over the limit/);
  });

  test("a body op without a length argument is malformed", () => {
    expect(() => requestDecoder(new Set(["PUT"])).push(bytes("PUT k\r\n"))).toThrow(/body length/);
  });

  test("invalid UTF-8 in a line is malformed", () => {
    expect(() => requestDecoder(new Set()).push(Uint8Array.of(0x50, 0xff, 0xfe, 0x0d, 0x0a))).toThrow(P2PError);
  });

  test("an empty line is malformed", () => {
    expect(() => requestDecoder(new Set()).push(bytes("\r\n"))).toThrow(/empty request/);
  });
});

describe("response frames", () => {
  test("a binary body with CRLF and NUL bytes survives any split", () => {
    const body = new Uint8Array(3000).map((_, index) => (index * 131 + 7) % 256);
    body.set(bytes("\r\n200 OK 0\r\n"), 100);
    const wire = join([...encodeResponse(200, "OK", body), ...encodeResponse(404, "NOT FOUND", new Uint8Array(0))]);
    for (const cut of [1, 2, 7, 13, 1000, wire.length]) {
      const decoder = responseDecoder();
      const frames = [];
      for (let at = 0; at < wire.length; at += cut) frames.push(...decoder.push(wire.subarray(at, at + cut)));
      expect(frames.map((frame) => frame.head)).toEqual([
        { status: 200, reason: "OK", length: 3000 },
        { status: 404, reason: "NOT FOUND", length: 0 },
      ]);
      expect(Buffer.from(frames[0]!.body).equals(Buffer.from(body))).toBe(true);
    }
  });

  test("a reason of several words is kept whole", () => {
    const frames = responseDecoder().push(bytes("202 IN PROGRESS 0\r\n"));
    expect(frames[0]!.head).toEqual({ status: 202, reason: "IN PROGRESS", length: 0 });
  });

  test("a response line without a length is malformed", () => {
    expect(() => responseDecoder().push(bytes("200 OK\r\n"))).toThrow(/bad response line/);
  });

  test("data lines round-trip", () => {
    expect(decodeLines(encodeLines(["1,a,127.0.0.2,7495", "2,b,127.0.0.3,7495"]))).toEqual([
      "1,a,127.0.0.2,7495",
      "2,b,127.0.0.3,7495",
    ]);
  });
});

describe("argument escaping", () => {
  test("names with spaces, CR/LF, percent signs and non-ASCII letters travel as one token", () => {
    for (const name of ["my file.txt", "a\r\nb", "100% done", "Übergrößenträger 🎵.flac", "über/../x"]) {
      const encoded = encodeArg(name);
      expect(encoded).not.toMatch(/[ \r\n]/);
      expect(decodeArg(encoded)).toBe(name);
    }
  });

  test("plain tokens of the original design pass unchanged", () => {
    expect(encodeArg("127.0.0.2")).toBe("127.0.0.2");
    expect(encodeArg("123")).toBe("123");
  });

  test("a broken escape is malformed", () => {
    expect(() => decodeArg("%zz")).toThrow(/broken %-escape/);
  });
});
