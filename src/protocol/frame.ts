// The wire format: `OP args\r\n` requests and `<code> <message> <length>\r\n` + body responses, parsed incrementally.

import { P2PError } from "./errors";
import { decodeArg, encodeArg } from "./escape";
import { MAX_ARGS, MAX_BODY_BYTES, MAX_LINE_BYTES } from "./limits";

export interface RequestHead {
  op: string;
  args: string[];
}

export interface ResponseHead {
  status: number;
  reason: string;
  length: number;
}

export interface Frame<Head> {
  head: Head;
  body: Uint8Array;
}

export interface FrameLimits {
  maxLineBytes: number;
  maxArgs: number;
  maxBodyBytes: number;
}

export const DEFAULT_LIMITS: FrameLimits = {
  maxLineBytes: MAX_LINE_BYTES,
  maxArgs: MAX_ARGS,
  maxBodyBytes: MAX_BODY_BYTES,
};

/** Tells, from a parsed head, how many body bytes follow it. */
export type BodyLength<Head> = (head: Head) => number;

/**
 * Reassembles frames from a byte stream cut anywhere: a frame split over many reads
 * or many frames in one read. It never holds more than one line or one body (both bounded).
 * Throws MALFORMED when the stream breaks a limit or the format; the stream is then unusable.
 */
export class FrameDecoder<Head> {
  private readonly parseHead: (line: string) => Head;
  private readonly bodyLength: BodyLength<Head>;
  private readonly limits: FrameLimits;
  private lineBuffer: Uint8Array = new Uint8Array(0);
  private pendingHead: Head | null = null;
  /** The body being filled: allocated once at its final size, so each byte is copied once. */
  private body: Uint8Array = new Uint8Array(0);
  private bodyFilled = 0;
  private readonly allocate: (length: number) => Uint8Array;

  /** `allocate` gives the buffer a body is read into (a pool's, for links that carry chunks). */
  constructor(
    parseHead: (line: string) => Head,
    bodyLength: BodyLength<Head>,
    limits: FrameLimits = DEFAULT_LIMITS,
    allocate: (length: number) => Uint8Array = (length) => new Uint8Array(length),
  ) {
    this.parseHead = parseHead;
    this.bodyLength = bodyLength;
    this.limits = limits;
    this.allocate = allocate;
  }

  /** True while a frame has started but not finished (a stalled peer shows here). */
  get midFrame(): boolean {
    return this.lineBuffer.length > 0 || this.pendingHead !== null;
  }

  push(chunk: Uint8Array): Frame<Head>[] {
    return this.pushAtMost(chunk, Number.POSITIVE_INFINITY).frames;
  }

  /**
   * Like `push`, but stops after `max` complete frames and returns the bytes after them undecoded: a link
   * that changes role after a frame (src/protocol/reversal.ts) hands those to the next role's decoder.
   */
  pushAtMost(chunk: Uint8Array, max: number): { frames: Frame<Head>[]; rest: Uint8Array } {
    const frames: Frame<Head>[] = [];
    let offset = 0;
    while (offset < chunk.length && frames.length < max) {
      if (this.pendingHead !== null) {
        offset = this.takeBody(chunk, offset, frames);
      } else {
        offset = this.takeLine(chunk, offset, frames);
      }
    }
    // Copied: the socket may reuse its read buffer after this callback returns.
    return { frames, rest: chunk.slice(offset) };
  }

  private takeLine(chunk: Uint8Array, offset: number, frames: Frame<Head>[]): number {
    const newline = chunk.indexOf(0x0a, offset);
    const end = newline === -1 ? chunk.length : newline + 1;
    if (this.lineBuffer.length + (end - offset) > this.limits.maxLineBytes) {
      throw new P2PError("MALFORMED", `line longer than ${this.limits.maxLineBytes} bytes`);
    }
    this.lineBuffer = concat(this.lineBuffer, chunk.subarray(offset, end));
    if (newline === -1) return end;

    const line = decodeLine(this.lineBuffer);
    this.lineBuffer = new Uint8Array(0);
    const head = this.parseHead(line);
    const length = this.bodyLength(head);
    if (length > this.limits.maxBodyBytes) {
      throw new P2PError("MALFORMED", `body of ${length} bytes is over the limit of ${this.limits.maxBodyBytes}`);
    }
    if (length === 0) {
      frames.push({ head, body: new Uint8Array(0) });
    } else {
      this.pendingHead = head;
      this.body = this.allocate(length);
      this.bodyFilled = 0;
    }
    return end;
  }

  private takeBody(chunk: Uint8Array, offset: number, frames: Frame<Head>[]): number {
    const take = Math.min(this.body.length - this.bodyFilled, chunk.length - offset);
    // Copied: the socket may reuse its read buffer after this callback returns.
    this.body.set(chunk.subarray(offset, offset + take), this.bodyFilled);
    this.bodyFilled += take;
    if (this.bodyFilled === this.body.length) {
      frames.push({ head: this.pendingHead as Head, body: this.body });
      this.pendingHead = null;
      this.body = new Uint8Array(0);
    }
    return offset + take;
  }
}

/** A decoder for the request side of a link; `bodyOps` lists ops whose last argument is a body length. */
export function requestDecoder(bodyOps: ReadonlySet<string>, limits: FrameLimits = DEFAULT_LIMITS): FrameDecoder<RequestHead> {
  return new FrameDecoder((line) => parseRequestLine(line, limits), (head) => requestBodyLength(head, bodyOps), limits);
}

export function responseDecoder(limits: FrameLimits = DEFAULT_LIMITS, allocate?: (length: number) => Uint8Array): FrameDecoder<ResponseHead> {
  return new FrameDecoder(parseResponseLine, (head) => head.length, limits, allocate);
}

/** Parses `OP arg1 arg2`; arguments are %-decoded, the op is case-insensitive. */
export function parseRequestLine(line: string, limits: FrameLimits = DEFAULT_LIMITS): RequestHead {
  const tokens = line.split(" ").filter((token) => token.length > 0);
  if (tokens.length === 0) throw new P2PError("MALFORMED", "empty request line");
  if (tokens.length - 1 > limits.maxArgs) {
    throw new P2PError("MALFORMED", `${tokens.length - 1} arguments, at most ${limits.maxArgs} allowed`);
  }
  const [op, ...args] = tokens;
  return { op: op!.toUpperCase(), args: args.map(decodeArg) };
}

/** Parses `<code> <message words...> <content-length>`. */
export function parseResponseLine(line: string): ResponseHead {
  const tokens = line.split(" ").filter((token) => token.length > 0);
  const status = Number(tokens[0]);
  const length = Number(tokens[tokens.length - 1]);
  if (tokens.length < 3 || !/^\d{3}$/.test(tokens[0]!) || !Number.isSafeInteger(length) || length < 0) {
    throw new P2PError("MALFORMED", `bad response line '${line.slice(0, 80)}'`);
  }
  return { status, reason: tokens.slice(1, -1).join(" "), length };
}

export function encodeRequest(op: string, args: readonly string[], body?: Uint8Array): Uint8Array[] {
  const tokens = [op, ...args.map(encodeArg)];
  if (body !== undefined) tokens.push(String(body.length));
  const head = encoder.encode(`${tokens.join(" ")}\r\n`);
  return body !== undefined && body.length > 0 ? [head, body] : [head];
}

export function encodeResponse(status: number, reason: string, body: Uint8Array): Uint8Array[] {
  const head = encoder.encode(`${status} ${reason} ${body.length}\r\n`);
  return body.length > 0 ? [head, body] : [head];
}

/** A body of data lines, each ended by CRLF (the original design's list replies). */
export function encodeLines(lines: readonly string[]): Uint8Array {
  return encoder.encode(lines.map((line) => `${line}\r\n`).join(""));
}

export function decodeLines(body: Uint8Array): string[] {
  const text = textDecoder.decode(body);
  const lines = text.split("\r\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

// A request's body length is its last argument, for the ops that take a body and no others.
function requestBodyLength(head: RequestHead, bodyOps: ReadonlySet<string>): number {
  if (!bodyOps.has(head.op)) return 0;
  const last = head.args.pop();
  const length = Number(last);
  if (last === undefined || !/^\d+$/.test(last) || !Number.isSafeInteger(length)) {
    throw new P2PError("MALFORMED", `${head.op} must end with the body length in bytes`);
  }
  return length;
}

const encoder = new TextEncoder();
const textDecoder = new TextDecoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

// Accepts CRLF and, for people typing into nc, a bare LF.
function decodeLine(bytes: Uint8Array): string {
  let end = bytes.length - 1;
  if (end > 0 && bytes[end - 1] === 0x0d) end -= 1;
  try {
    return strictDecoder.decode(bytes.subarray(0, end));
  } catch {
    throw new P2PError("MALFORMED", "line is not valid UTF-8");
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
