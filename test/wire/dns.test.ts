// The DNS link's ops: every request and reply survives encode then decode, rows keep the original format, foreign lines are skipped.

import { describe, expect, test } from "bun:test";
import { decodeLines, encodeLines } from "../../src/protocol/frame";
import { DNS } from "../../src/wire/dns";
import { replyBody } from "../../src/wire/op";

describe("the DNS link", () => {
  test("JOIN round-trips its peer and the rows it answers, numbered from 1", () => {
    const join = { peerId: "a".repeat(40), ip: "127.0.0.5", port: 7600 };
    const wire = DNS.JOIN.encodeArgs(join);
    expect(wire.args).toEqual(["a".repeat(40), "127.0.0.5", "7600"]);
    expect(DNS.JOIN.decodeArgs(wire.args, new Uint8Array())).toEqual({ ...join, also: false });
    // A dual-stack member's other address: the fourth argument, only then.
    const also = DNS.JOIN.encodeArgs({ ...join, also: true });
    expect(also.args).toEqual(["a".repeat(40), "127.0.0.5", "7600", "also"]);
    expect(DNS.JOIN.decodeArgs(also.args, new Uint8Array())).toEqual({ ...join, also: true });
    const rows = [
      { peerId: "abc", ip: "127.0.0.2", port: 7495 },
      { peerId: "c-3", ip: "127.0.0.4", port: 7600 },
    ];
    const body = replyBody(DNS.JOIN.encodeReply({ rows, skipped: [] }));
    expect(decodeLines(body)).toEqual(["1,abc,127.0.0.2,7495", "2,c-3,127.0.0.4,7600"]);
    expect(DNS.JOIN.decodeReply(body, "127.0.0.1:7494", join)).toEqual({ rows, skipped: [] });
  });

  test("JOIN without a port means the peer port 7495", () => {
    expect(DNS.JOIN.decodeArgs(["123", "127.0.0.2"], new Uint8Array())).toEqual({ peerId: "123", ip: "127.0.0.2", port: 7495, also: false });
    expect(() => DNS.JOIN.decodeArgs(["bad id!", "127.0.0.2"], new Uint8Array())).toThrow(/invalid peer id/);
  });

  test("rows a reader cannot parse are skipped, not fatal", () => {
    const body = encodeLines(["1,abc,127.0.0.2,7495", "nonsense", "2,x,not-an-ip,7495"]);
    expect(DNS.PEERS.decodeReply(body, "127.0.0.1:7494", undefined)).toEqual({
      rows: [{ peerId: "abc", ip: "127.0.0.2", port: 7495 }],
      skipped: ["nonsense", "2,x,not-an-ip,7495"],
    });
  });

  test("LEAVE and DELETE round-trip the peer id and answer 'removed <id>'", () => {
    for (const op of [DNS.LEAVE, DNS.DELETE]) {
      const wire = op.encodeArgs("c-3");
      expect(wire.args).toEqual(["c-3"]);
      expect(op.decodeArgs(wire.args, new Uint8Array())).toBe("c-3");
      expect(decodeLines(replyBody(op.encodeReply("c-3")))).toEqual(["removed c-3"]);
      expect(op.decodeReply(replyBody(op.encodeReply("c-3")), "127.0.0.1:7494", "c-3")).toBe("c-3");
    }
  });

  test("PEERS takes no arguments and round-trips its rows", () => {
    expect(DNS.PEERS.encodeArgs(undefined)).toEqual({ args: [] });
    const rows = [{ peerId: "a", ip: "127.0.0.2", port: 7495 }];
    expect(DNS.PEERS.decodeReply(replyBody(DNS.PEERS.encodeReply({ rows, skipped: [] })), "dns", undefined)).toEqual({ rows, skipped: [] });
  });

  test("PING answers PONG", () => {
    expect(decodeLines(replyBody(DNS.PING.encodeReply(undefined)))).toEqual(["PONG"]);
  });
});
