// The control link's ops: every request and reply survives encode then decode, and the node's checks on PUT stay where they were.

import { describe, expect, test } from "bun:test";
import { ringId } from "../../src/model/id";
import { peerAt } from "../../src/model/peer";
import { decodeLines } from "../../src/protocol/frame";
import { CONTROL, MAX_MEMBER_LENGTH, MAX_VALUE_BYTES, type DownloadReport, type NodeStatus, type SharedEntry, type TransferEntry, type TransfersReport } from "../../src/wire/control";
import { type OpDef, replyBody } from "../../src/wire/op";
import { requestRoundTrip, replyRoundTrip as sharedReplyRoundTrip } from "./round-trip";

const replyRoundTrip = <A, R>(op: OpDef<A, R>, result: R, args: A): R => sharedReplyRoundTrip(op, result, args, "the node");

const peer = peerAt("127.0.0.2:7495");

describe("the control link", () => {
  test("PING, STATUS and LEAVE take no arguments and round-trip their replies", () => {
    expect(decodeLines(replyBody(CONTROL.PING.encodeReply(undefined)))).toEqual(["PONG"]);
    const status: NodeStatus = {
      id: peer.id,
      address: peer.address,
      predecessor: null,
      successors: [peer],
      fingers: [],
      records: { primary: 1, replica: 2 },
      dns: "127.0.0.1:7494",
      dataDir: "/tmp/x",
      uptimeSeconds: 3,
    };
    expect(requestRoundTrip(CONTROL.STATUS, undefined)).toBeUndefined();
    expect(replyRoundTrip(CONTROL.STATUS, status, undefined)).toEqual(status);
    expect(replyRoundTrip(CONTROL.LEAVE, "left the ring", undefined)).toBe("left the ring");
  });

  test("LOOKUP and GET round-trip a key or text and their replies", () => {
    expect(requestRoundTrip(CONTROL.LOOKUP, "some text")).toBe("some text");
    const found = { key: ringId("some text"), successor: peer, hops: 3 };
    expect(replyRoundTrip(CONTROL.LOOKUP, found, "some text")).toEqual(found);
    const entries = [{ key: ringId("k"), member: "m", value: "v", updatedAt: 1, expiresAt: null, deleted: false }];
    expect(requestRoundTrip(CONTROL.GET, "k")).toBe("k");
    expect(replyRoundTrip(CONTROL.GET, entries, "k")).toEqual(entries);
  });

  test("PUT round-trips with and without a ttl and refuses long members, long values and bad ttls", () => {
    expect(requestRoundTrip(CONTROL.PUT, { key: "k", member: "m", value: "v" })).toEqual({ key: "k", member: "m", value: "v" });
    expect(requestRoundTrip(CONTROL.PUT, { key: "k", member: "m", value: "v", ttlMs: 5_000 })).toEqual({ key: "k", member: "m", value: "v", ttlMs: 5_000 });
    expect(replyRoundTrip(CONTROL.PUT, { primary: peer }, { key: "k", member: "m", value: "v" })).toEqual({ primary: peer });
    const none = new Uint8Array();
    expect(() => CONTROL.PUT.decodeArgs(["k", "m".repeat(MAX_MEMBER_LENGTH + 1), "v"], none)).toThrow(/member is over/);
    expect(() => CONTROL.PUT.decodeArgs(["k", "m", "v".repeat(MAX_VALUE_BYTES + 1)], none)).toThrow(/value is over/);
    expect(() => CONTROL.PUT.decodeArgs(["k", "m", "v", "-5"], none)).toThrow(/invalid ttl/);
  });

  test("UPLOAD, LIST and SEARCH round-trip their arguments and replies", () => {
    expect(requestRoundTrip(CONTROL.UPLOAD, { path: "/tmp/a b.txt" })).toEqual({ path: "/tmp/a b.txt" });
    expect(requestRoundTrip(CONTROL.UPLOAD, { path: "/tmp/a", name: "report.pdf" })).toEqual({ path: "/tmp/a", name: "report.pdf" });
    expect(replyRoundTrip(CONTROL.UPLOAD, { name: "a", size: 3, id: "f".repeat(64) }, { path: "/tmp/a" })).toEqual({ name: "a", size: 3, id: "f".repeat(64) });
    const files = [{ name: "a", size: 1, id: "0".repeat(64), holders: 2 }] as never;
    expect(replyRoundTrip(CONTROL.LIST, files, undefined)).toEqual(files);
    expect(requestRoundTrip(CONTROL.SEARCH, "photos")).toBe("photos");
    expect(replyRoundTrip(CONTROL.SEARCH, files, "photos")).toEqual(files);
  });

  test("DOWNLOAD round-trips its name, out path and force flag, an empty out path meaning the default", () => {
    expect(CONTROL.DOWNLOAD.encodeArgs({ ref: "a.txt", out: "/tmp/a.txt", force: true }).args).toEqual(["a.txt", "/tmp/a.txt", "force"]);
    expect(requestRoundTrip(CONTROL.DOWNLOAD, { ref: "a.txt", out: "/tmp/a.txt", force: false })).toEqual({ ref: "a.txt", out: "/tmp/a.txt", force: false });
    expect(requestRoundTrip(CONTROL.DOWNLOAD, { ref: "a.txt@0123", force: true })).toEqual({ ref: "a.txt@0123", force: true });
    const report: DownloadReport = { name: "a.txt", size: 9, id: "0".repeat(64), path: "/tmp/a.txt", sources: [peer.address], badSources: [], resumedChunks: 0, milliseconds: 12 };
    expect(replyRoundTrip(CONTROL.DOWNLOAD, report, { ref: "a.txt", force: false })).toEqual(report);
  });

  test("DOWNLOAD carries noshare next to force, and an unknown flag is refused", () => {
    expect(CONTROL.DOWNLOAD.encodeArgs({ ref: "a", out: "/tmp/a", force: false, noShare: true }).args).toEqual(["a", "/tmp/a", "noshare"]);
    expect(requestRoundTrip(CONTROL.DOWNLOAD, { ref: "a", out: "/tmp/a", force: true, noShare: true })).toEqual({ ref: "a", out: "/tmp/a", force: true, noShare: true });
    expect(() => CONTROL.DOWNLOAD.decodeArgs(["a", "", "forse"], new Uint8Array())).toThrow(/unknown DOWNLOAD flag 'forse'/);
  });

  test("TRANSFERS, CANCEL, SHARED and UNSHARE round-trip their arguments and replies", () => {
    const entry: TransferEntry = { id: "a".repeat(64), name: "a.iso", path: "/tmp/a.iso", size: 10, bytes: 4, rate: 2, etaSeconds: 3, sources: [peer.address], state: "downloading", startedAt: 1 };
    const report: TransfersReport = { downloads: [entry], serving: [{ id: "b".repeat(64), name: "b", requests: 1, servedBytes: 7 }] };
    expect(requestRoundTrip(CONTROL.TRANSFERS, undefined)).toBeUndefined();
    expect(replyRoundTrip(CONTROL.TRANSFERS, report, undefined)).toEqual(report);
    expect(requestRoundTrip(CONTROL.CANCEL, { ref: "a.iso", discard: false })).toEqual({ ref: "a.iso", discard: false });
    expect(requestRoundTrip(CONTROL.CANCEL, { ref: "aaaa", discard: true })).toEqual({ ref: "aaaa", discard: true });
    expect(() => CONTROL.CANCEL.decodeArgs(["a", "now"], new Uint8Array())).toThrow(/expected discard/);
    expect(replyRoundTrip(CONTROL.CANCEL, { ...entry, state: "cancelled" }, { ref: "a.iso", discard: false })).toEqual({ ...entry, state: "cancelled" });
    const shared: SharedEntry[] = [{ name: "b", id: "b".repeat(64), size: 3, path: "/tmp/b", since: null, servedBytes: 0 }];
    expect(replyRoundTrip(CONTROL.SHARED, shared, undefined)).toEqual(shared);
    expect(requestRoundTrip(CONTROL.UNSHARE, "b")).toBe("b");
    expect(replyRoundTrip(CONTROL.UNSHARE, shared, "b")).toEqual(shared);
  });

  test("a reply without a field the client reads is one clear error naming the field, not a crash while rendering", () => {
    const olderStatus = { id: peer.id, address: peer.address, predecessor: null, successors: [peer], dns: "127.0.0.1:7494" }; // no fingers, no records
    const decode = (op: OpDef<unknown, unknown>, value: unknown) => () => op.decodeReply(new TextEncoder().encode(JSON.stringify(value)), "the node", undefined);
    expect(decode(CONTROL.STATUS as OpDef<unknown, unknown>, olderStatus)).toThrow(
      "the node's STATUS reply has 'fingers' missing or not a list; the node may run another version of p2p: restart it with this binary",
    );
    const list = [{ name: "a.txt", size: 3, id: "ab", holders: 1 }, { name: "b.txt", size: "3", id: "cd", holders: 1 }];
    expect(decode(CONTROL.LIST as OpDef<unknown, unknown>, list)).toThrow("the node's LIST reply has '[1].size' missing or not a number");
    const transfers = { downloads: [{ id: "ab", name: "x", path: "/x", size: 1, bytes: 0, rate: 0, etaSeconds: "soon", sources: [], state: "downloading", startedAt: 1 }], serving: [] };
    expect(decode(CONTROL.TRANSFERS as OpDef<unknown, unknown>, transfers)).toThrow("'downloads[0].etaSeconds' missing or not a number");
    expect(() => CONTROL.SHARED.decodeReply(new TextEncoder().encode("<html>"), "the node", undefined)).toThrow("the node's SHARED reply is not JSON");
    // Fields the client does not know are left alone: a newer node may add some.
    const newer = { ...{ id: peer.id, address: peer.address, predecessor: null, successors: [], fingers: [], records: { primary: 0, replica: 0 }, dns: "d", dataDir: "/d", uptimeSeconds: 1 }, load: 0.5 };
    expect(decode(CONTROL.STATUS as OpDef<unknown, unknown>, newer)()).toEqual(newer);
  });
});
