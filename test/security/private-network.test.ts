// A private network (--key) of real processes: keyed nodes share files end to end; outsiders cannot join, read or fetch.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { ringId } from "../../src/model/id";
import { connect, type ProtocolClient } from "../../src/protocol/client";
import { isP2PError } from "../../src/protocol/errors";
import { writeNetworkKey } from "../../src/protocol/network-key";
import { type Testnet, type TestnetNode, createTestnet } from "../../src/testnet";
import { tempDir, waitFor } from "../helpers/wait";
import { fetchFile, share } from "./hostile";

const FAST = ["--stabilize", "200", "--rpc-timeout", "1000"];
const MiB = 1024 * 1024;
const REFUSAL = /refused 127\.\d+\.\d+\.\d+:\d+: it does not use this network's key \(--key\)/;

const text = (body: Uint8Array) => new TextDecoder().decode(body);
const split = (address: string) => ({ hostname: address.slice(0, address.lastIndexOf(":")), port: Number(address.slice(address.lastIndexOf(":") + 1)) });

/** Sends clear-text request lines on a raw socket; returns how many bytes came back before the peer closed. */
async function plainRequests(address: string, lines: string[]): Promise<{ received: number; closed: boolean }> {
  let received = 0;
  let closed = false;
  const socket = await Bun.connect({
    ...split(address),
    socket: {
      data(_socket: Socket, chunk: Uint8Array) {
        received += chunk.length;
      },
      close() {
        closed = true;
      },
    },
  });
  socket.write(lines.map((line) => `${line}\r\n`).join(""));
  await waitFor("the keyed node to hang up", () => closed, 5_000, 10).catch(() => {});
  socket.terminate();
  return { received, closed };
}

describe("a private network (--key) of five nodes", () => {
  let net: Testnet;
  const dir = tempDir();
  const clients: ProtocolClient[] = [];
  let fileId = "";
  const original = randomBytes(3 * MiB + 321);

  beforeAll(async () => {
    net = await createTestnet({ nodes: 5, nodeArgs: FAST, key: true });
    await net.waitForConsistentRing(30_000);
  }, 60_000);
  afterAll(async () => {
    for (const client of clients) client.close();
    await net.close();
    dir.remove();
  });

  test("upload, list, search and download work end to end, and the downloaded bytes are the uploaded ones", async () => {
    const [alpha, , , , echo] = net.nodes as [TestnetNode, TestnetNode, TestnetNode, TestnetNode, TestnetNode];
    fileId = await share(net, alpha, dir.path, "secret plans.bin", original);
    const listed = JSON.parse(text(await net.control(net.nodes[2]!, "LIST"))) as { name: string; id: string }[];
    expect(listed.map((file) => `${file.name}/${file.id}`)).toContain(`secret plans.bin/${fileId}`);
    const found = JSON.parse(text(await net.control(net.nodes[3]!, "SEARCH", ["plans"]))) as { name: string }[];
    expect(found.map((file) => file.name)).toEqual(["secret plans.bin"]);
    const fetched = await fetchFile(net, echo, "secret plans.bin", join(dir.path, "plans.out"));
    expect(fetched.id).toBe(fileId);
    expect(Buffer.compare(Buffer.from(fetched.bytes), original)).toBe(0);
    expect((await net.status(echo)).privateNetwork).toBe(true);
  }, 60_000);

  test("a clear-text outsider asking a keyed node for a record or a chunk gets no byte back, and the node logs one line", async () => {
    const target = net.nodes[0]!;
    const before = (target.log().match(new RegExp(REFUSAL, "g")) ?? []).length;
    for (const line of [`GET_RECORDS ${ringId("name:secret plans.bin")}`, `GET_CHUNK ${fileId || "0".repeat(64)} 0`]) {
      const { received, closed } = await plainRequests(target.address, [line]);
      expect(closed).toBe(true);
      expect(received).toBe(0);
    }
    // The protocol's own client without the key: the link closes, no reply is ever decoded.
    const plain = await connect(split(target.address));
    clients.push(plain);
    const error = await plain.request("GET_CHUNK", [fileId, "0"]).catch((caught) => caught);
    expect(isP2PError(error, "CLOSED")).toBe(true);
    expect(error.message).toContain("if it runs a private network, this side needs its --key too");
    // One line per refused connection: two raw sockets and the keyless client.
    await waitFor("the refusals in the node's log", () => (target.log().match(new RegExp(REFUSAL, "g")) ?? []).length === before + 3, 5_000);
  }, 30_000);

  test("a client holding another key is refused at the handshake and reads nothing", async () => {
    const wrong = new Uint8Array(randomBytes(32));
    const error = await connect(split(net.nodes[1]!.address), { networkKey: wrong }).catch((caught) => caught);
    expect(isP2PError(error, "REFUSED")).toBe(true);
    expect(error.message).toContain("does not use this network's key");
    await waitFor("the refusal in the node's log", () => REFUSAL.test(net.nodes[1]!.log()), 5_000);
  }, 30_000);

  test("a node with another key cannot join: the DNS refuses it and it stops with a clear error", async () => {
    const otherKey = join(dir.path, "other.key");
    writeNetworkKey(otherKey);
    const error = await net.addNode(undefined, { env: { P2P_KEY: otherKey } }).catch((caught) => caught);
    // The node exits at once with the reason, instead of retrying a DNS that will never let it in.
    expect(String(error?.message)).toMatch(/exited \(1\)[\s\S]*error: .*does not use this network's key \(--key\)/);
    expect(net.dnsLog()).toMatch(REFUSAL);
    const stranger = net.nodes[net.nodes.length - 1]!;
    for (const node of net.nodes.slice(0, 5)) expect(JSON.stringify(await net.status(node))).not.toContain(stranger.address);
  }, 30_000);

  test("a node without a key cannot join: the DNS refuses it and the keyed ring never sees it", async () => {
    const dnsRefusals = (net.dnsLog().match(new RegExp(REFUSAL, "g")) ?? []).length;
    const outsider = net.addNode(undefined, { env: { P2P_KEY: "" } }).catch((caught) => caught);
    await waitFor("the DNS to refuse the keyless node", () => (net.dnsLog().match(new RegExp(REFUSAL, "g")) ?? []).length > dnsRefusals, 10_000);
    const stranger = net.nodes[net.nodes.length - 1]!;
    expect(stranger.log()).not.toMatch(/is in the ring/);
    await net.stopNode(stranger, "SIGKILL");
    expect(String((await outsider)?.message)).toMatch(/exited/);
    const keyed = net.nodes.slice(0, 5);
    for (const node of keyed) {
      const status = await net.status(node);
      expect(JSON.stringify(status)).not.toContain(stranger.address);
    }
  }, 30_000);
});
