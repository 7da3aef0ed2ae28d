// A real node on IPv6 loopback (::1) in a ring of IPv4 nodes: named [::1]:port, its id bound to its /64, its files found and fetched.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ringId } from "../../src/model/id";
import { connect } from "../../src/protocol/client";
import { type Testnet, createTestnet } from "../../src/testnet";
import { runP2P, startP2P, stopAllProcesses } from "../helpers/processes";
import { tempDir, waitFor } from "../helpers/wait";

const FAST = ["--stabilize", "200", "--rpc-timeout", "1000"];
const dir = tempDir();
let net: Testnet | null = null;

afterEach(async () => {
  await stopAllProcesses();
  await net?.close();
  net = null;
});
afterAll(() => dir.remove());

const text = (body: Uint8Array) => new TextDecoder().decode(body);

async function control(socket: string, op: string, args: string[] = []): Promise<string> {
  const client = await connect({ unix: socket });
  try {
    return text((await client.request(op, args)).body);
  } finally {
    client.close();
  }
}

describe("a node on IPv6 loopback", () => {
  test("joins a ring of IPv4 nodes as [::1]:port under its /64's id, the client finds it by that address, and a file it shares lists with 1 holder and downloads intact, by name and by its link", async () => {
    net = await createTestnet({ nodes: 2, nodeArgs: FAST });
    // ::1 is one address for the whole machine: a random high port keeps this test clear of others.
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    const node = startP2P(["node", "::1", "--port", String(port), "--dns", net.dnsAddress, ...FAST], { env: { P2P_HOME: net.home } });
    await node.waitForStderr(/is in the ring/, 30_000);
    const socket = join(net.home, `::1-${port}`, "node.sock");
    const status = JSON.parse(await control(socket, "STATUS")) as { id: string; address: string };
    expect(status.address).toBe(`[::1]:${port}`);
    expect(status.id).toBe(ringId(`::/64/${port % 8}`));
    expect(node.stderr()).toContain(`at [::1]:${port} is in the ring`);
    // The client finds each node by its address in any spelling.
    for (const [spelling, address] of [[`[::1]:${port}`, `[::1]:${port}`], [`::ffff:${net.nodes[0]!.ip}`, net.nodes[0]!.address]] as const) {
      const found = await runP2P(["client", "status", "--json", "--node", spelling], { env: net.env });
      expect(`${spelling}: ${found.code} ${found.stderr}`).toBe(`${spelling}: 0 `);
      expect((JSON.parse(found.stdout) as { address: string }).address).toBe(address);
    }

    const bytes = new Uint8Array(randomBytes(40_000));
    const path = join(dir.path, "from-v6.bin");
    writeFileSync(path, bytes);
    const uploaded = JSON.parse(await control(socket, "UPLOAD", [path])) as { id: string };
    const reader = net.nodes[1]!;
    const listed = await waitFor("the IPv6 node's file in an IPv4 node's list", async () => {
      const files = JSON.parse(text(await net!.control(reader, "LIST"))) as Array<{ name: string; id: string; holders: number }>;
      return files.find((file) => file.name === "from-v6.bin");
    }, 20_000);
    expect(listed).toMatchObject({ id: uploaded.id, holders: 1 });
    const out = join(dir.path, "fetched.bin");
    const report = JSON.parse(text(await net.control(reader, "DOWNLOAD", ["from-v6.bin", out]))) as { id: string };
    expect(report.id).toBe(uploaded.id);
    expect(Buffer.from(await Bun.file(out).arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);

    // Its link names it bracketed, with the brackets percent-encoded (a bare [::1] is a glob in zsh); the link alone leads there.
    const link = JSON.parse(await control(socket, "LINK", ["from-v6.bin"])) as { link: string; via: string[] };
    expect(link.via[0]).toBe(`[::1]:${port}`);
    expect(link.link).toContain(`%5B::1%5D:${port}`);
    const unannounced = link.link.replace("/from-v6.bin/", "/v6-by-link.bin/");
    const viaLink = JSON.parse(text(await net.control(reader, "DOWNLOAD", [unannounced, join(dir.path, "by-link.bin"), "noshare"]))) as { sources: string[] };
    expect(viaLink.sources).toEqual([`[::1]:${port}`]);
  }, 90_000);
});
