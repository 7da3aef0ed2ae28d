// The ring link's ops: every request and reply survives encode then decode, the bytes are the documented ones, and senders keep to the receivers' limits.

import { describe, expect, test } from "bun:test";
import { ringId } from "../../src/model/id";
import type { RecordEntry } from "../../src/model/record";
import { peerAt, type Peer } from "../../src/model/peer";
import { decodeLines } from "../../src/protocol/frame";
import { type OpDef, replyBody } from "../../src/wire/op";
import { requestRoundTrip as sharedRequestRoundTrip, replyRoundTrip } from "./round-trip";
import { MAX_AVOID, MAX_HANDOVER_SUCCESSORS, RING, ringCalls } from "../../src/wire/ring";
import { MAX_RECORD_MESSAGE_BYTES, MAX_RECORDS_PER_MESSAGE } from "../../src/wire/records";
import { MAX_BODY_BYTES } from "../../src/protocol/limits";

const a = peerAt("127.0.0.2:7495");
const b = peerAt("127.0.0.3:7495");
const c = peerAt("127.0.0.4:7600");

function entry(i: number, overrides: Partial<RecordEntry> = {}): RecordEntry {
  return { key: ringId(`key ${i}`), member: `m${i}`, value: `v${i}`, updatedAt: 1_700_000_000_000 + i, expiresAt: null, deleted: false, ...overrides };
}

/** The shared round trip, plus: a body travels exactly when the op says it carries one. */
function requestRoundTrip<A, R>(op: OpDef<A, R>, args: A): A {
  expect(op.encodeArgs(args).body !== undefined).toBe(op.body === true);
  return sharedRequestRoundTrip(op, args);
}

describe("the ring link", () => {
  test("PING carries nothing and answers PONG", () => {
    expect(RING.PING.encodeArgs(false)).toEqual({ args: [] });
    expect(decodeLines(replyBody(RING.PING.encodeReply(null)))).toEqual(["PONG"]);
    expect(replyRoundTrip(RING.PING, null, false)).toBeNull();
  });

  test("PING time answers PONG and then the answerer's clock; a reply without it, or any other argument, is 422", () => {
    expect(RING.PING.encodeArgs(true)).toEqual({ args: ["time"] });
    expect(RING.PING.decodeArgs(["TIME"], new Uint8Array())).toBe(true);
    expect(decodeLines(replyBody(RING.PING.encodeReply(1_700_000_000_000)))).toEqual(["PONG", "time,1700000000000"]);
    expect(replyRoundTrip(RING.PING, 1_700_000_000_000, true)).toBe(1_700_000_000_000);
    expect(() => RING.PING.decodeReply(replyBody(RING.PING.encodeReply(null)), "peer", true)).toThrow(/without a valid 'time,<ms>' line/);
    expect(() => RING.PING.decodeArgs(["soon"], new Uint8Array())).toThrow(/PING takes nothing or 'time'/);
  });

  test("FIND_SUCCESSOR round-trips its key, avoid list and both kinds of answer", () => {
    const key = ringId("some file");
    expect(requestRoundTrip(RING.FIND_SUCCESSOR, { key, avoid: [] })).toEqual({ key, avoid: [] });
    expect(requestRoundTrip(RING.FIND_SUCCESSOR, { key, avoid: [a.address, c.address] })).toEqual({ key, avoid: [a.address, c.address] });
    expect(RING.FIND_SUCCESSOR.encodeArgs({ key, avoid: [a.address, b.address] }).args).toEqual([key, "127.0.0.2:7495,127.0.0.3:7495"]);
    expect(replyRoundTrip(RING.FIND_SUCCESSOR, { done: true, peer: a })).toEqual({ done: true, peer: a });
    expect(replyRoundTrip(RING.FIND_SUCCESSOR, { done: false, peer: c })).toEqual({ done: false, peer: c });
    expect(decodeLines(replyBody(RING.FIND_SUCCESSOR.encodeReply({ done: false, peer: c })))).toEqual([`next,${c.id},127.0.0.4,7600`]);
  });

  test("FIND_SUCCESSOR senders name at most MAX_AVOID addresses, the most a receiver takes", () => {
    const many = Array.from({ length: MAX_AVOID + 10 }, (_, i) => `127.0.0.${i + 2}:7495`);
    const sent = RING.FIND_SUCCESSOR.encodeArgs({ key: a.id, avoid: many });
    expect(RING.FIND_SUCCESSOR.decodeArgs(sent.args, new Uint8Array()).avoid).toHaveLength(MAX_AVOID);
    expect(() => RING.FIND_SUCCESSOR.decodeArgs([a.id, many.join(",")], new Uint8Array())).toThrow(/at most/);
  });

  test("an empty FIND_SUCCESSOR answer is an error naming the peer", () => {
    expect(() => RING.FIND_SUCCESSOR.decodeReply(new Uint8Array(), "127.0.0.9:7495", { key: a.id, avoid: [] })).toThrow(/127\.0\.0\.9:7495 answered FIND_SUCCESSOR with nothing/);
  });

  test("GET_NEIGHBOURS round-trips with and without a predecessor", () => {
    expect(requestRoundTrip(RING.GET_NEIGHBOURS, undefined)).toBeUndefined();
    expect(replyRoundTrip(RING.GET_NEIGHBOURS, { predecessor: a, successors: [b, c] })).toEqual({ predecessor: a, successors: [b, c] });
    expect(replyRoundTrip(RING.GET_NEIGHBOURS, { predecessor: null, successors: [] })).toEqual({ predecessor: null, successors: [] });
    expect(decodeLines(replyBody(RING.GET_NEIGHBOURS.encodeReply({ predecessor: a, successors: [b] })))).toEqual([
      `predecessor,${a.id},127.0.0.2,7495`,
      `successor,${b.id},127.0.0.3,7495`,
    ]);
  });

  test("UPDATE_PREDECESSOR round-trips its peer as id, ip, port and refuses an id that is not the address's hash", () => {
    expect(RING.UPDATE_PREDECESSOR.encodeArgs(c).args).toEqual([c.id, "127.0.0.4", "7600"]);
    expect(requestRoundTrip(RING.UPDATE_PREDECESSOR, c)).toEqual(c);
    expect(() => RING.UPDATE_PREDECESSOR.decodeArgs([a.id, "127.0.0.3", "7495"], new Uint8Array())).toThrow(/not the id of/);
    expect(replyBody(RING.UPDATE_PREDECESSOR.encodeReply(undefined))).toHaveLength(0);
  });

  test("PUT_RECORDS round-trips entries, tombstones and expiries, and the count it answers", () => {
    const entries = [entry(1), entry(2, { deleted: true, value: "", expiresAt: 1_800_000_000_000 })];
    expect(requestRoundTrip(RING.PUT_RECORDS, entries)).toEqual(entries);
    expect(replyRoundTrip(RING.PUT_RECORDS, 7)).toBe(7);
    expect(decodeLines(replyBody(RING.PUT_RECORDS.encodeReply(7)))).toEqual(["7"]);
  });

  test("a PUT_RECORDS sender refuses a batch the receiver would refuse, and ringCalls splits big pushes into batches", async () => {
    const many = Array.from({ length: MAX_RECORDS_PER_MESSAGE + 1 }, (_, i) => entry(i));
    expect(() => RING.PUT_RECORDS.encodeArgs(many)).toThrow(/at most 2000/);
    const sizes: number[] = [];
    const calls = ringCalls(async (_to, op, args) => {
      const wire = op.encodeArgs(args);
      const decoded = op.decodeArgs(wire.args, wire.body ?? new Uint8Array()) as RecordEntry[];
      sizes.push(decoded.length);
      return decoded.length as never;
    });
    const all = Array.from({ length: 2 * MAX_RECORDS_PER_MESSAGE + 5 }, (_, i) => entry(i));
    expect(await calls.putRecords(a, all)).toBe(all.length);
    expect(sizes).toEqual([MAX_RECORDS_PER_MESSAGE, MAX_RECORDS_PER_MESSAGE, 5]);
  });

  test("a push of entries with large values goes in messages under the byte limit, each one a frame the receiver takes", async () => {
    const big = "x".repeat(60 * 1024);
    const all = Array.from({ length: 300 }, (_, i) => entry(i, { value: big })); // about 18 MiB in all
    const bodies: number[] = [];
    let delivered = 0;
    const calls = ringCalls(async (_to, op, args) => {
      const wire = op.encodeArgs(args);
      bodies.push(wire.body?.length ?? 0);
      const decoded = op.decodeArgs(wire.args, wire.body ?? new Uint8Array()) as RecordEntry[];
      delivered += decoded.length;
      return decoded.length as never;
    });
    expect(await calls.putRecords(a, all)).toBe(all.length);
    expect(delivered).toBe(all.length);
    expect(bodies.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...bodies)).toBeLessThanOrEqual(MAX_RECORD_MESSAGE_BYTES);
    expect(Math.max(...bodies)).toBeLessThan(MAX_BODY_BYTES);
  });

  test("a GET_RECORDS reply over the byte limit carries the newest writes and still fits a frame", () => {
    const big = "y".repeat(60 * 1024);
    const entries = Array.from({ length: 300 }, (_, i) => entry(i, { value: big }));
    const body = replyBody(RING.GET_RECORDS.encodeReply(entries));
    expect(body.length).toBeLessThanOrEqual(MAX_RECORD_MESSAGE_BYTES);
    const sent = replyRoundTrip(RING.GET_RECORDS, entries);
    expect(sent.length).toBeGreaterThan(100);
    const oldestSent = Math.min(...sent.map((one) => one.updatedAt));
    expect(entries.filter((one) => one.updatedAt > oldestSent).length).toBe(sent.length - 1); // exactly the newest ones
  });

  test("GET_RECORDS round-trips its key and entries, and a reply never carries more than a receiver takes", () => {
    const key = ringId("name:report.pdf");
    expect(requestRoundTrip(RING.GET_RECORDS, key)).toBe(key);
    const entries = [entry(1), entry(2, { expiresAt: 1_900_000_000_000 })];
    expect(replyRoundTrip(RING.GET_RECORDS, entries)).toEqual(entries);
    const many = Array.from({ length: MAX_RECORDS_PER_MESSAGE + 3 }, (_, i) => entry(i));
    expect(replyRoundTrip(RING.GET_RECORDS, many)).toHaveLength(MAX_RECORDS_PER_MESSAGE);
  });

  test("LEAVING round-trips the leaver and its hand-over, and sends at most MAX_HANDOVER_SUCCESSORS", () => {
    const handover = { leaver: a, predecessor: b, successors: [c] };
    expect(requestRoundTrip(RING.LEAVING, handover)).toEqual(handover);
    expect(requestRoundTrip(RING.LEAVING, { leaver: a, predecessor: null, successors: [] })).toEqual({ leaver: a, predecessor: null, successors: [] });
    const wire = RING.LEAVING.encodeArgs(handover);
    expect(wire.args).toEqual([a.id, "127.0.0.2", "7495"]);
    expect(new TextDecoder().decode(wire.body)).toBe(JSON.stringify({ predecessor: b, successors: [c] }));
    const crowd: Peer[] = Array.from({ length: MAX_HANDOVER_SUCCESSORS + 6 }, (_, i) => peerAt(`127.0.1.${i + 1}:7495`));
    expect(requestRoundTrip(RING.LEAVING, { leaver: a, predecessor: null, successors: crowd }).successors).toHaveLength(MAX_HANDOVER_SUCCESSORS);
  });
});
