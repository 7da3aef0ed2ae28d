// The web page's guard, attacked with plain HTTP against a real `p2p node --web`: no token, a wrong token, a foreign Host, a cross-site Origin.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Testnet, createTestnet } from "../../src/testnet";
import { defaultDataDir } from "../../src/node/home";
import { PEER_PORT } from "../../src/protocol/address";
import { builtBinary } from "../helpers/binary";
import { runP2P } from "../helpers/processes";
import { tempDir } from "../helpers/wait";

describe("the web page's guard", () => {
  let net: Testnet;
  let pageUrl: URL;
  let token: string;

  beforeAll(async () => {
    net = await createTestnet({ nodes: 1, executable: [await builtBinary()], nodeArgs: ["--web"] });
    const printed = await runP2P(["client", "web", "--node", net.nodes[0]!.ip], { env: net.env, executable: net.executable });
    expect(printed.code).toBe(0);
    pageUrl = new URL(printed.stdout.trim());
    token = pageUrl.searchParams.get("token")!;
  }, 60_000);
  afterAll(() => net?.close());

  /** One raw request, so Host and Origin are exactly what an attacker's browser would send. */
  const ask = (path: string, headers: Record<string, string> = {}, method = "GET") =>
    fetch(new URL(path, pageUrl.origin), { method, headers: { host: pageUrl.host, ...headers }, redirect: "manual" });

  test("client web prints the page at the node's own loopback address, and the token file is 0600", () => {
    expect(pageUrl.host).toBe(`${net.nodes[0]!.ip}:7496`);
    expect(token).toMatch(/^[0-9a-f]{48}$/);
    expect(statSync(join(defaultDataDir(net.nodes[0]!.ip, PEER_PORT, net.home), "web-token")).mode & 0o777).toBe(0o600);
  });

  test("a request with the token in the URL gets it back as an HttpOnly SameSite=Strict cookie", async () => {
    const response = await ask(`/?token=${token}`);
    expect(response.status).toBe(303);
    expect(response.headers.get("set-cookie")).toBe(`p2p_web_token=${token}; HttpOnly; SameSite=Strict; Path=/`);
    const page = await ask("/", { cookie: `p2p_web_token=${token}` });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>p2p node</title>");
  });

  test("a request with no token is refused, the page and every action alike", async () => {
    expect((await ask("/")).status).toBe(401);
    expect((await ask("/api/events")).status).toBe(401);
    expect((await ask("/api/op/STATUS", {}, "POST")).status).toBe(401);
  });

  test("a request with a wrong token is refused", async () => {
    expect((await ask("/api/op/STATUS", { cookie: `p2p_web_token=${"0".repeat(48)}` }, "POST")).status).toBe(403);
    expect((await ask(`/?token=${token.slice(0, -1)}x`)).status).toBe(403);
  });

  test("a request naming a foreign Host (DNS rebinding) is refused even with the right token", async () => {
    const response = await ask("/api/op/STATUS", { host: `evil.example:${pageUrl.port}`, cookie: `p2p_web_token=${token}` }, "POST");
    expect(response.status).toBe(421);
  });

  test("a cross-site request is refused even with the right token", async () => {
    const response = await ask("/api/op/SHARED", { origin: "http://evil.example", cookie: `p2p_web_token=${token}` }, "POST");
    expect(response.status).toBe(403);
    const same = await ask("/api/op/SHARED", { origin: pageUrl.origin, cookie: `p2p_web_token=${token}` }, "POST");
    expect(same.status).toBe(200);
  });

  test("the page may not run an op off its whitelist, such as LEAVE", async () => {
    const response = await ask("/api/op/LEAVE", { cookie: `p2p_web_token=${token}` }, "POST");
    expect(response.status).toBe(422);
    expect(net.liveNodes().length).toBe(1);
  });

  test("a folder upload cannot write outside the node's uploads folder, whatever path or folder name it gives", async () => {
    const dataDir = defaultDataDir(net.nodes[0]!.ip, PEER_PORT, net.home);
    const post = (query: string) => ask(`/api/upload?${query}`, { cookie: `p2p_web_token=${token}` }, "POST");
    const attempts = ["folder=x&path=../../escaped.txt&first=1", "folder=x&path=/tmp/escaped.txt&first=1", "folder=..&path=escaped.txt&first=1", "folder=.incoming&path=escaped.txt", "folder=a%2Fb&path=escaped.txt"];
    for (const query of attempts) {
      const response = await post(query);
      expect(`${query}: ${response.status}`).toBe(`${query}: 422`);
    }
    const escaped = [join(dataDir, "escaped.txt"), join(dataDir, "uploads", "escaped.txt"), join(dataDir, "uploads", ".incoming", "escaped.txt"), "/tmp/escaped.txt"];
    expect(escaped.filter((path) => existsSync(path))).toEqual([]);
  });

  test("a node refuses to serve the page off loopback without --web-token-file, in one line", async () => {
    const dir = tempDir();
    try {
      const result = await runP2P(["node", "127.0.0.9", "--data", dir.path, "--web-listen", "0.0.0.0:7496"], { env: net.env, executable: net.executable, timeoutMs: 20_000 });
      expect(result.code).not.toBe(0);
      expect(result.stderr.trim()).toBe("error: refusing to serve the web page on 0.0.0.0, which is not loopback, without --web-token-file");
    } finally {
      dir.remove();
    }
  });

  test("a node whose web port is taken leaves the ring and closes before printing its one-line error", async () => {
    const ip = net.nodes[0]!.ip.replace(/\.\d+$/, ".9");
    const taken = Bun.listen({ hostname: ip, port: 0, socket: { data() {} } });
    const dir = tempDir();
    try {
      const result = await runP2P(["node", ip, "--dns", net.dnsAddress, "--data", dir.path, "--web-listen", String(taken.port)], { env: net.env, executable: net.executable, timeoutMs: 30_000 });
      // Read at once: a node that exited joined would still be the other's neighbour here (nothing has timed out yet).
      const status = await net.status(net.nodes[0]!);
      expect(result.code).not.toBe(0);
      const lines = result.stderr.trim().split("\n");
      expect(lines.filter((line) => line.startsWith("error:"))).toEqual([lines.at(-1)!]);
      expect(lines.at(-1)!).toStartWith(`error: cannot serve the web page on ${ip}:${taken.port}: `);
      expect(lines.findIndex((line) => line.includes("left the ring"))).toBeGreaterThan(lines.findIndex((line) => line.includes("is in the ring")));
      const neighbours = [status.predecessor, ...status.successors].map((peer) => peer?.address);
      expect(neighbours).not.toContain(`${ip}:${PEER_PORT}`);
    } finally {
      taken.stop(true);
      dir.remove();
    }
  }, 40_000);
});
