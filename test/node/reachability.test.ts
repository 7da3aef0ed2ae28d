// How the world sees a node, through real `p2p dns` and `p2p node` processes on loopback: OBSERVED, the DNS's dial-back, --advertise, and abuse of both.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { ProtocolClient } from "../../src/protocol/client";
import { decodeLines } from "../../src/protocol/frame";
import { TARGET_HOST_BURST } from "../../src/protocol/connect-budget";
import { countingListener, hostileLink } from "../security/hostile";
import { runP2P, startP2P, stopAllProcesses } from "../helpers/processes";
import { loopbackAddress, tempDir, waitFor } from "../helpers/wait";

const FAST = ["--stabilize", "200", "--rpc-timeout", "1000"];
const dir = tempDir();
const clients: ProtocolClient[] = [];
const stops: Array<() => void> = [];
const NONCE = "0123456789abcdef0123456789abcdef";

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const stop of stops.splice(0)) stop();
  await stopAllProcesses();
});
afterAll(() => dir.remove());

/** A random high port: nodes here must name theirs (--port 0 is refused). */
const freePort = () => 20_000 + Math.floor(Math.random() * 30_000);
const home = () => join(dir.path, `home-${Math.random().toString(16).slice(2)}`);

async function startDns(): Promise<string> {
  const hostname = loopbackAddress();
  const proc = startP2P(["dns", "--host", hostname, "--port", "0", "--db", join(dir.path, `dns-${hostname}.db`)]);
  const port = Number((await proc.waitForStderr(/listening on [\d.]+:(\d+)/))[1]);
  return `${hostname}:${port}`;
}

async function startNode(dns: string, env: Record<string, string>, extra: string[] = []): Promise<{ ip: string; port: number }> {
  const ip = loopbackAddress();
  const node = startP2P(["node", ip, "--port", String(freePort()), "--dns", dns, ...FAST, ...extra], { env });
  const port = Number((await node.waitForStderr(new RegExp(`at ${ip.replaceAll(".", "\\.")}:(\\d+) is in the ring`), 30_000))[1]);
  return { ip, port };
}

/** Polls `p2p client status` until its reach line says something other than "not checked yet". */
async function reachLine(env: Record<string, string>, node: string): Promise<string> {
  return waitFor("the node's reach line", async () => {
    const status = await runP2P(["client", "status", "--node", node], { env });
    const line = /^reach +(.*)$/m.exec(status.stdout)?.[1];
    return line && line !== "not checked yet" ? line : null;
  }, 20_000);
}

describe("how a node finds its place", () => {
  test("the DNS and a node's ring port both report the address a connection comes from as OBSERVED", async () => {
    const dns = await startDns();
    const env = { P2P_HOME: home() };
    const node = await startNode(dns, env);
    const from = loopbackAddress();
    for (const address of [dns, `${node.ip}:${node.port}`]) {
      const link = await hostileLink(address, clients, from);
      const reply = await link.request("OBSERVED", []);
      expect(decodeLines(reply.body)[0]).toMatch(new RegExp(`^${from.replaceAll(".", "\\.")}:\\d+$`));
    }
  }, 60_000);

  test("the DNS's dial-back confirms a listening node, and status says reachable at its address", async () => {
    const dns = await startDns();
    const env = { P2P_HOME: home() };
    const node = await startNode(dns, env);
    expect(await reachLine(env, `${node.ip}:${node.port}`)).toBe(`reachable at ${node.ip}:${node.port}`);
  }, 60_000);

  test("a node advertising an address nobody listens on is found unreachable by the DNS, says why, and joins as an edge node through a member", async () => {
    const dns = await startDns();
    const member = await startNode(dns, { P2P_HOME: home() });
    const env = { P2P_HOME: home() };
    const nobody = countingListener(loopbackAddress(), "nothing");
    nobody.stop(); // a port that was free a moment ago, now closed
    const ip = loopbackAddress();
    const port = freePort();
    const proc = startP2P(["node", ip, "--port", String(port), "--dns", dns, "--advertise", `${ip}:${nobody.port}`, ...FAST], { env });
    await proc.waitForStderr(/ is reached through its relay/, 30_000);
    expect(proc.stderr()).toContain(`unreachable from ${dns}: nothing accepts connections at ${ip}:${nobody.port} (cannot reach ${ip}:${nobody.port}: Failed to connect)`);
    expect(await reachLine(env, `${ip}:${port}`)).toBe(`unreachable: relayed through ${member.ip}:${member.port}`);
  }, 60_000);

  test("a node whose --advertise port is forwarded to it joins the ring under the advertised address, and a member reaches it there", async () => {
    const dns = await startDns();
    const memberEnv = { P2P_HOME: home() };
    const member = await startNode(dns, memberEnv);
    const ip = loopbackAddress();
    const port = freePort();
    // A manual port forward, as a router's would be: the advertised port passes every connection on to the node's own.
    const forward = tcpForward(ip, port);
    stops.push(forward.stop);
    const env = { P2P_HOME: home() };
    const proc = startP2P(["node", ip, "--port", String(port), "--dns", dns, "--advertise", `${ip}:${forward.port}`, ...FAST], { env });
    await proc.waitForStderr(new RegExp(`at ${ip.replaceAll(".", "\\.")}:${forward.port} is in the ring`), 30_000);
    expect(proc.stderr()).toContain(`joining as ${ip}:${forward.port}, where peers reach this node (it listens on ${ip}:${port})`);
    expect(await reachLine(env, `${ip}:${port}`)).toBe(`reachable at ${ip}:${forward.port}`);
    // The member's ring links to it go through the forward.
    const memberStatus = await waitFor("the member to know the node by its advertised address", async () => {
      const status = await runP2P(["client", "status", "--node", `${member.ip}:${member.port}`, "--json"], { env: memberEnv });
      return status.stdout.includes(`${ip}:${forward.port}`) ? status.stdout : null;
    }, 30_000, 200);
    expect(memberStatus).not.toContain(`${ip}:${port}"`);
    expect(forward.connections()).toBeGreaterThan(1);
  }, 60_000);

  test("--advertise that is not an address is one clear line and exit, no node started", async () => {
    const bad = await runP2P(["node", loopbackAddress(), "--advertise", "my-router", "--dns", "127.0.0.1:1"], { env: { P2P_HOME: home() } });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toBe("error: invalid --advertise 'my-router': expected ip[:port] ([ip]:port for IPv6), e.g. 203.0.113.7:7495");
  }, 30_000);
});

describe("dial-backs under attack", () => {
  test("a hostile peer cannot aim a dial-back at a third address, and a node it claims as itself is not believed", async () => {
    const dns = await startDns();
    const env = { P2P_HOME: home() };
    const victim = await startNode(dns, env);
    const hostile = await hostileLink(dns, clients, loopbackAddress());
    // DIALBACK takes a port and a nonce, never an address: naming the victim's is malformed.
    const aimed = await hostile.send("DIALBACK", [victim.ip, String(victim.port), NONCE]);
    expect(aimed.status).toBe(422);
    // From the victim's own IP, claiming the victim's port: the victim does not know the hostile nonce.
    const claiming = await hostileLink(dns, clients, victim.ip);
    const reply = await claiming.send("DIALBACK", [String(victim.port), NONCE]);
    expect(reply.status).toBe(200);
    expect(decodeLines(reply.body)[0]).toBe(`unreachable the node at ${victim.ip}:${victim.port} is not the one that asked (it does not know the nonce)`);
  }, 60_000);

  test("dial-backs are paid from the DNS's connect budget: a burst of requests knocks on the asker's host at most the burst's count", async () => {
    const dns = await startDns();
    const ip = loopbackAddress();
    const target = countingListener(ip, "nothing");
    stops.push(target.stop);
    // All at once, each on its own connection, as a scanner would.
    const links = await Promise.all(Array.from({ length: 3 * TARGET_HOST_BURST }, () => hostileLink(dns, clients, ip)));
    const statuses = (await Promise.all(links.map((link) => link.send("DIALBACK", [String(target.port), NONCE], { timeoutMs: 5_000 })))).map((reply) => reply.status);
    expect(statuses.filter((status) => status === 503).length).toBeGreaterThanOrEqual(TARGET_HOST_BURST);
    expect(target.accepted()).toBeLessThanOrEqual(TARGET_HOST_BURST + 2);
  }, 60_000);
});

/** Listens at `ip` on a free port and pipes every connection to `ip:to` (both ways), as a router's port forward. */
function tcpForward(ip: string, to: number): { port: number; connections(): number; stop(): void } {
  let connections = 0;
  type Pipe = { peer: import("bun").Socket<unknown> | null; early: Uint8Array[] };
  const listener = Bun.listen<Pipe>({
    hostname: ip,
    port: 0,
    socket: {
      open(inbound) {
        connections++;
        inbound.data = { peer: null, early: [] };
        void Bun.connect<unknown>({
          hostname: ip,
          port: to,
          socket: {
            open(outbound) {
              inbound.data.peer = outbound;
              for (const bytes of inbound.data.early.splice(0)) outbound.write(bytes);
            },
            data(_outbound, bytes) {
              inbound.write(bytes);
            },
            close() {
              inbound.end();
            },
          },
        }).catch(() => inbound.end());
      },
      data(inbound, bytes) {
        if (inbound.data.peer) inbound.data.peer.write(bytes);
        else inbound.data.early.push(bytes.slice());
      },
      close(inbound) {
        inbound.data.peer?.end();
      },
    },
  });
  return { port: listener.port, connections: () => connections, stop: () => listener.stop(true) };
}
