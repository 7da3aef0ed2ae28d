// A hostile peer for the attack tests: raw wire requests to a real node or DNS, a lying ring member, and the files they attack.

import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { connect, type ProtocolClient } from "../../src/protocol/client";
import { encodeLines, encodeResponse } from "../../src/protocol/frame";
import type { Testnet, TestnetNode } from "../../src/testnet";
import { ChordNode } from "../../src/node/ring/chord";
import { MemoryRecordStore } from "../../src/node/ring/records";
import type { RecordEntry } from "../../src/model/record";
import { peerAt, type Peer } from "../../src/model/peer";
import type { RingHandlers } from "../../src/model/ring-transport";
import { TcpTransport } from "../../src/node/tcp-transport";
import { serve } from "../../src/protocol/server";
import { splitAddress } from "../../src/wire/codec";
import { FILES } from "../../src/wire/files";
import { opTable, serveOp } from "../../src/wire/op";
import { ringOps } from "../../src/wire/ring";

/** Opens a raw protocol connection to `ip:port` (`[ip]:port` for IPv6), from `localAddress` if given, as any outsider can; the caller closes what `opened` holds. */
export async function hostileLink(address: string, opened: ProtocolClient[], localAddress?: string): Promise<ProtocolClient> {
  const { ip, port } = splitAddress(address);
  const client = await connect({ hostname: ip, port }, { localAddress });
  opened.push(client);
  return client;
}

/** A public key nobody holds the private half of: enough to reserve with at a relay. */
export function anyPublicKey(): string {
  return randomBytes(32).toString("hex");
}

/**
 * Sends RESERVE on a new connection to the relay at `address` (from `localAddress` if given); resolves with the
 * first notice once the relay took it (the reply stays open as the reservation, until the caller closes `opened`).
 */
export async function reserveAt(address: string, key: string, opened: ProtocolClient[], localAddress?: string): Promise<string> {
  const link = await hostileLink(address, opened, localAddress);
  return new Promise<string>((resolve, reject) => {
    link.request("RESERVE", [key], { timeoutMs: 60_000, onProgress: (lines) => resolve(lines[0]!) }).catch(reject);
  });
}

/** A listener the test owns: it counts the connections it accepts. */
export type CountingListener = { ip: string; port: number; address: string; accepted(): number; stop(): void };

/**
 * Listens at `ip` (port 0: any free one) and counts every connection it accepts. `speaks`: "p2p" answers
 * each PING with PONG as a peer does (and nothing else); "ssh" greets with an SSH banner, as a port that
 * listens but is no peer; "nothing" stays silent.
 */
export function countingListener(ip: string, speaks: "p2p" | "ssh" | "nothing", port = 0): CountingListener {
  let accepted = 0;
  const pong = Buffer.concat(encodeResponse(200, "OK", encodeLines(["PONG"])));
  const listener = Bun.listen<{ text: string }>({
    hostname: ip,
    port,
    data: { text: "" },
    socket: {
      open(socket) {
        accepted++;
        socket.data = { text: "" };
        socket.timeout(10);
        if (speaks === "ssh") socket.write("SSH-2.0-OpenSSH_9.2\r\n");
      },
      data(socket, bytes) {
        if (speaks !== "p2p") return;
        socket.data.text += bytes.toString();
        const lines = socket.data.text.split("\r\n");
        socket.data.text = lines.pop()!.slice(-4096);
        for (const line of lines) if (line.toUpperCase() === "PING") socket.write(pong);
      },
      timeout(socket) {
        socket.end();
      },
    },
  });
  return { ip, port: listener.port, address: `${ip}:${listener.port}`, accepted: () => accepted, stop: () => listener.stop(true) };
}

/**
 * Ways to write one IPv4 address as IPv6 that `isIP` accepts (mapped and compatible forms, in several
 * cases and compressions): before addresses were canonical, each was a peer and a holder of its own.
 */
export function ipv6Spellings(ipv4: string): string[] {
  const [a, b, c, d] = ipv4.split(".").map(Number) as [number, number, number, number];
  const [high, low] = [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
  const tails = [ipv4, `${high}:${low}`, `${high}:${low}`.toUpperCase(), `${high.padStart(4, "0")}:${low.padStart(4, "0")}`];
  const prefixes = ["::ffff:", "::FFFF:", "::FfFf:", "0::ffff:", "0:0::ffff:", "0:0:0::ffff:", "0:0:0:0::ffff:", "0:0:0:0:0:ffff:", "::0:ffff:", "::0:0:ffff:", "::0:0:0:ffff:", "::0:0:0:0:ffff:", "0000::ffff:", "0:0:0:0:0:FFFF:", "00:0:0:0:0:ffff:"];
  const spellings = [...prefixes.flatMap((prefix) => tails.map((tail) => prefix + tail)), `::${ipv4}`, `::${high}:${low}`, `0:0:0:0:0:0:${ipv4}`];
  return spellings.filter((text) => isIP(text) === 6);
}

/** Writes `bytes` as `name` in `dir`, uploads it from `node`; returns its file id. */
export async function share(net: Testnet, node: TestnetNode, dir: string, name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const reply = JSON.parse(new TextDecoder().decode(await net.control(node, "UPLOAD", [path]))) as { id: string };
  return reply.id;
}

/** Downloads `name` on `node` into `dir`; returns the bytes written and the report. */
export async function fetchFile(net: Testnet, node: TestnetNode, name: string, out: string): Promise<{ bytes: Uint8Array; id: string }> {
  const report = JSON.parse(new TextDecoder().decode(await net.control(node, "DOWNLOAD", [name, out]))) as { id: string };
  return { bytes: new Uint8Array(await Bun.file(out).arrayBuffer()), id: report.id };
}

/** A ring member run in the test process that lies: see `lyingRingNode`. */
export type LyingRingNode = { self: Peer; close(): Promise<void> };

/**
 * A real ring member at `address` (its own ChordNode, its own TCP server) that joins through
 * `bootstrap` and keeps its place honestly (PING, GET_NEIGHBOURS, UPDATE_PREDECESSOR, LEAVING),
 * but answers FIND_SUCCESSOR with itself for every key, swallows every PUT_RECORDS while saying
 * it stored it, answers GET_RECORDS with nothing and LIST_ALL_FILES with `fakeList()`.
 */
export async function lyingRingNode(address: string, bootstrap: Peer, fakeList: () => RecordEntry[]): Promise<LyingRingNode> {
  const self = peerAt(address);
  const transport = new TcpTransport({ rpcTimeoutMs: 1000 });
  const chord = new ChordNode(self, transport, new MemoryRecordStore());
  const liar: RingHandlers = {
    handleFindSuccessorStep: () => {
      chord.handleGetNeighbours(); // answers UNAVAILABLE until it has joined, as a real node does
      return { done: true, peer: self };
    },
    handleGetNeighbours: () => chord.handleGetNeighbours(),
    handleNotify: (candidate) => chord.handleNotify(candidate),
    handlePutRecords: (entries) => entries.length,
    handleGetRecords: () => [],
    handleLeaving: (leaver, predecessor, successors) => chord.handleLeaving(leaver, predecessor, successors),
  };
  const { ip, port } = splitAddress(address);
  const listing = serveOp(FILES.LIST_ALL_FILES, () => ({ files: fakeList(), children: [], next: null }));
  const server = await serve({ listen: { hostname: ip, port }, ops: { ...ringOps(liar), ...opTable(listing) } });
  const close = async () => {
    chord.stop();
    await chord.idle();
    transport.close();
    await server.stop();
  };
  try {
    const { joinedVia } = await chord.join([bootstrap]);
    if (joinedVia === null) throw new Error(`the lying node could not join through ${bootstrap.address}`);
  } catch (error) {
    await close();
    throw error;
  }
  chord.start(200);
  return { self, close };
}
