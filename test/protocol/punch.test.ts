// Hole punching's messages and its failures on loopback (the punches themselves run through namespaces: test/demo/punch.test.ts).

import { expect, test } from "bun:test";
import type { FramedConnection } from "../../src/protocol/connection";
import { decodeLines } from "../../src/protocol/frame";
import { choosePunchPort, decodePunchMessage, encodePunchMessage, MAX_PUNCH_ADDRESSES, punch, type PunchChannel, punchedClient, type PunchMessage, servePunched } from "../../src/protocol/punch";
import type { ServedConnection } from "../../src/protocol/server";
import { connectionHandlers } from "../../src/protocol/socket-handlers";
import { simultaneousOpen } from "../../src/protocol/simultaneous-open";
import { RELAY } from "../../src/wire/relay";
import { loopbackAddress } from "../helpers/wait";

/** One side of an in-memory channel: what it sends lands in `inbox` of the other. */
function channelPair(): [PunchChannel, PunchChannel] {
  const boxes: string[][] = [[], []];
  const side = (mine: number): PunchChannel => ({
    send: async (line) => void boxes[1 - mine]!.push(line),
    receive: async (timeoutMs) => {
      const deadline = performance.now() + timeoutMs;
      while (boxes[mine]!.length === 0) {
        if (performance.now() > deadline) throw new Error("nothing arrived");
        await Bun.sleep(5);
      }
      return boxes[mine]!.shift()!;
    },
  });
  return [side(0), side(1)];
}

test("punch messages round-trip, IPv6 addresses in brackets", () => {
  const messages: PunchMessage[] = [{ kind: "SYNC" }, { kind: "CONNECT", addresses: ["203.0.113.11:40000", "[2001:db8::2]:40000"] }];
  for (const message of messages) {
    expect(decodePunchMessage(encodePunchMessage(message))).toEqual(message);
  }
});

test("a malformed punch message is a clear MALFORMED error, never a crash", () => {
  const bad = ["", "HELLO", "SYNC now", "CONNECT", "CONNECT 203.0.113.11", "CONNECT 203.0.113.11:99999", "CONNECT 0.0.0.0:4000", "CONNECT not-an-ip:4000", `CONNECT ${Array.from({ length: MAX_PUNCH_ADDRESSES + 1 }, () => "203.0.113.11:4000").join(" ")}`, `CONNECT ${"1".repeat(600)}`];
  for (const line of bad) {
    expect(() => decodePunchMessage(line)).toThrow();
    try {
      decodePunchMessage(line);
    } catch (error) {
      expect({ line, code: (error as { code?: string }).code }).toEqual({ line, code: "MALFORMED" });
    }
  }
});

test("a simultaneous open towards a port nobody opens fails with UNREACHABLE naming its attempts, within its window", async () => {
  const hostname = loopbackAddress();
  const started = performance.now();
  const failure = await simultaneousOpen({ localPort: choosePunchPort(hostname), localAddress: hostname, remote: { hostname, port: choosePunchPort(hostname) }, attempts: 3, windowMs: 2_000 }).catch((error) => error);
  expect(failure.code).toBe("UNREACHABLE");
  expect(failure.message).toMatch(/^no direct connection to 127\.[\d.]+:\d+ from local port \d+: 3 attempts in \d+ ms, the last: /);
  expect(performance.now() - started).toBeLessThan(2_000);
});

test("a responder that gets SYNC before CONNECT rejects with MALFORMED and dials nothing", async () => {
  const [initiator, responder] = channelPair();
  await initiator.send("SYNC");
  await expect(punch(responder, { role: "responder", localPort: choosePunchPort(), observedIp: "127.0.0.1", messageTimeoutMs: 1_000 })).rejects.toMatchObject({ code: "MALFORMED" });
});

test("an initiator whose peer never answers CONNECT fails with the channel's error", async () => {
  const [initiator] = channelPair();
  await expect(punch(initiator, { role: "initiator", localPort: choosePunchPort(), observedIp: "127.0.0.1", messageTimeoutMs: 100 })).rejects.toThrow("nothing arrived");
});

test("a punched socket carries a private network's link: the holder serves through servePunched, the downloader asks through punchedClient", async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const hostname = loopbackAddress();
  const served: ServedConnection[] = [];
  // On loopback nothing needs punching: a listener stands in for the other side's simultaneous open.
  const listener = Bun.listen<FramedConnection<never>>({
    hostname,
    port: 0,
    socket: {
      ...connectionHandlers<never>(),
      open(socket) {
        served.push(servePunched({ socket, remote: "test", rttMs: 0, path: "punched" }, { ops: { WHO: { usage: "WHO", minArgs: 0, maxArgs: 0, handle: () => ({ lines: ["holder"] }) } }, networkKey: key }));
      },
    },
  });
  try {
    const socket = await simultaneousOpen({ localPort: choosePunchPort(hostname), localAddress: hostname, remote: { hostname, port: listener.port }, attempts: 1 });
    const link = await punchedClient({ socket, remote: `${hostname}:${listener.port}`, rttMs: 0, path: "punched" }, { networkKey: key });
    expect(decodeLines((await link.request("WHO")).body)).toEqual(["holder"]);
    link.close();
    await served[0]!.whenClosed;
  } finally {
    for (const connection of served) connection.close();
    listener.stop(true);
  }
});

/** Serves WHO on `result` (the responder's link), as an edge serves its ops on a punched one. */
const whoOps = { WHO: { usage: "WHO", minArgs: 0, maxArgs: 0, handle: () => ({ lines: ["holder"] }) } };

test("a CONNECT with LAN addresses and random-ports round-trips, and one with a single address still decodes as before", () => {
  const full: PunchMessage = { kind: "CONNECT", addresses: ["203.0.113.11:40000", "10.0.1.2:40000", "[fd00::2]:40000"], randomPorts: true };
  expect(encodePunchMessage(full)).toBe("CONNECT 203.0.113.11:40000 10.0.1.2:40000 [fd00::2]:40000 random-ports");
  expect(decodePunchMessage(encodePunchMessage(full))).toEqual(full);
  expect(decodePunchMessage("CONNECT 203.0.113.11:40000")).toEqual({ kind: "CONNECT", addresses: ["203.0.113.11:40000"] });
  expect(() => decodePunchMessage("CONNECT random-ports")).toThrow();
  // The PUNCH op takes the longest legal CONNECT as arguments.
  const longest = encodePunchMessage({ kind: "CONNECT", addresses: Array.from({ length: MAX_PUNCH_ADDRESSES }, () => "203.0.113.11:40000"), randomPorts: true });
  expect(RELAY.PUNCH.encodeArgs(longest).args.length).toBeLessThanOrEqual(RELAY.PUNCH.maxArgs);
});

test("two sides behind the same NAT (equal observed IPs) connect over the responder's LAN address, and the link carries requests", async () => {
  const [initiatorChannel, responderChannel] = channelPair();
  const [dialler, edge] = [loopbackAddress(), loopbackAddress()];
  // Both announce one (loopback) public IP where nothing listens: a punch there would fail, the LAN path must not.
  const nat = "127.0.0.250";
  const responding = punch(responderChannel, { role: "responder", localPort: choosePunchPort(edge), observedIp: nat, localAddress: edge, lanIp: edge, messageTimeoutMs: 3_000 });
  const initiated = punch(initiatorChannel, { role: "initiator", localPort: choosePunchPort(dialler), observedIp: nat, localAddress: dialler, lanIp: dialler, messageTimeoutMs: 3_000 });
  const [mine, theirs] = await Promise.all([initiated, responding]);
  expect([mine.path, theirs.path]).toEqual(["lan", "lan"]);
  expect(mine.remote.startsWith(`${edge}:`)).toBe(true);
  const served = servePunched(theirs, { ops: whoOps });
  const link = await punchedClient(mine);
  try {
    expect(decodeLines((await link.request("WHO")).body)).toEqual(["holder"]);
  } finally {
    link.close();
    served.close();
  }
});

/** Runs a punch between two sides over an in-memory channel: the initiator's failure, the responder's outcome, and the lines the initiator sent. */
async function punchBetween(initiator: { observedIp: string; randomPorts?: boolean; peerIp?: string }, responder: { observedIp: string; randomPorts?: boolean }) {
  const sent: string[] = [];
  const [initiatorChannel, responderChannel] = channelPair();
  const recording: PunchChannel = { send: async (line) => (sent.push(line), initiatorChannel.send(line)), receive: (ms) => initiatorChannel.receive(ms), peerIp: () => initiator.peerIp };
  const responding = punch(responderChannel, { role: "responder", localPort: choosePunchPort(), observedIp: responder.observedIp, randomPorts: responder.randomPorts, messageTimeoutMs: 1_000 }).catch((error) => error);
  const failure = await punch(recording, { role: "initiator", localPort: choosePunchPort(), observedIp: initiator.observedIp, randomPorts: initiator.randomPorts, messageTimeoutMs: 3_000 }).catch((error) => error);
  return { failure: { code: failure.code, message: failure.message }, responder: await responding, syncs: sent.filter((line) => line === "SYNC") };
}

test("a punch between an IPv4 and an IPv6 observed address is skipped on both sides (different-families): no SYNC, no dial", async () => {
  const outcome = await punchBetween({ observedIp: "127.0.0.1" }, { observedIp: "::1" });
  expect(outcome.failure).toEqual({ code: "UNREACHABLE", message: expect.stringContaining("punch skipped (different-families)") });
  expect(outcome.responder.message).toContain("punch skipped (different-families)");
  expect(outcome.syncs).toEqual([]);
});

test("two sides whose NATs both map ports at random skip the punch (random-ports) on both sides without SYNC", async () => {
  const outcome = await punchBetween({ observedIp: "127.0.0.251", randomPorts: true }, { observedIp: "127.0.0.250", randomPorts: true });
  expect(outcome.failure).toEqual({ code: "UNREACHABLE", message: expect.stringContaining("punch skipped (random-ports): both sides' NATs") });
  expect(outcome.responder.message).toContain("punch skipped (random-ports)");
  expect(outcome.syncs).toEqual([]);
});

test("a birthday punch is skipped (unconfirmed-ip) when the relay does not confirm the IP the other side announces: no SYNC, no SYN", async () => {
  // The relay saw the responder at .250; the responder announces .9 (a stranger it wants flooded).
  const outcome = await punchBetween({ observedIp: "127.0.0.251", peerIp: "127.0.0.250" }, { observedIp: "127.0.0.9", randomPorts: true });
  expect(outcome.failure).toEqual({ code: "UNREACHABLE", message: expect.stringContaining("punch skipped (unconfirmed-ip)") });
  expect(outcome.syncs).toEqual([]);
  // Its own channel confirms nothing either: the responder does not punch, and waits for a SYNC that never comes.
  expect(outcome.responder.message).toContain("punch skipped (unconfirmed-ip)");
});

/** A host that has nothing to do with the punch, counting the connections that reach it. */
function stranger() {
  const seen = { connections: 0 };
  const listener = Bun.listen({ hostname: loopbackAddress(), port: 0, socket: {
      open(socket) {
        seen.connections++;
        socket.end();
      },
      data() {},
    },
  });
  return { seen, address: `${listener.hostname}:${listener.port}`, stop: () => listener.stop(true) };
}

test("a plain punch is skipped (unconfirmed-ip) when the other side announces an IP the relay did not see it at: the stranger named gets no SYN", async () => {
  const target = stranger();
  try {
    const [dialler, hostile] = channelPair();
    // The relay saw the edge at .250; the edge answers CONNECT with a stranger's address as its own.
    const confirmed: PunchChannel = { ...dialler, peerIp: () => "127.0.0.250" };
    const punching = punch(confirmed, { role: "initiator", localPort: choosePunchPort(), observedIp: "127.0.0.251", messageTimeoutMs: 3_000 }).catch((error) => error);
    await hostile.receive(3_000);
    await hostile.send(encodePunchMessage({ kind: "CONNECT", addresses: [target.address] }));
    const failure = await punching;
    expect({ code: failure.code, message: failure.message }).toEqual({ code: "UNREACHABLE", message: expect.stringContaining("punch skipped (unconfirmed-ip)") });
    expect(target.seen.connections).toBe(0);
  } finally {
    target.stop();
  }
});

test("an edge asked to punch by a dialler announcing an IP the relay did not see it at skips the punch (unconfirmed-ip) and dials nothing, even on SYNC", async () => {
  const target = stranger();
  try {
    const [hostile, edge] = channelPair();
    // The relay's INCOMING said the dialler comes from .251; its CONNECT names a stranger.
    const confirmed: PunchChannel = { ...edge, peerIp: () => "127.0.0.251" };
    const responding = punch(confirmed, { role: "responder", localPort: choosePunchPort(), observedIp: "127.0.0.250", messageTimeoutMs: 3_000 }).catch((error) => error);
    await hostile.send(encodePunchMessage({ kind: "CONNECT", addresses: [target.address] }));
    await hostile.send(encodePunchMessage({ kind: "SYNC" }));
    const failure = await responding;
    expect({ code: failure.code, message: failure.message }).toEqual({ code: "UNREACHABLE", message: expect.stringContaining("punch skipped (unconfirmed-ip)") });
    expect(target.seen.connections).toBe(0);
  } finally {
    target.stop();
  }
});
