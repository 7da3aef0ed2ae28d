// NAT-PMP's client against real UDP sockets on loopback: the lab's gateway, a closed port, a silent one, a refusal, and the default route read from a route table.

import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultGateway, externalAddress, mapTcp } from "../../src/protocol/nat-pmp";
import { startNatPmpGateway } from "../../src/testnet/natpmp-gateway";
import { loopbackAddress, tempDir } from "../helpers/wait";

const stops: Array<() => void> = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

const FAST = { firstWaitMs: 50, tries: 3 };

/**
 * The lab's gateway, its iptables calls recorded instead of run. On 127.0.0.1: it answers only its own /24, and a
 * socket on loopback sends to any 127/8 address from 127.0.0.1.
 */
async function gateway(): Promise<{ ip: string; lan: string; rules: string[][] }> {
  const lan = "127.0.0";
  const rules: string[][] = [];
  stops.push(await startNatPmpGateway({ wan: "203.0.113.14", lan, iptables: (args) => rules.push(args), log: () => {} }));
  return { ip: `${lan}.1`, lan, rules };
}

describe("the NAT-PMP client", () => {
  test("learns the router's external address and gets the port it asks for, another when that one is taken, and removes a mapping with lifetime 0", async () => {
    const { ip, rules } = await gateway();
    expect(await externalAddress(ip, FAST)).toBe("203.0.113.14");
    expect(await mapTcp(ip, 7495, 7495, 7200, FAST)).toEqual({ internalPort: 7495, externalPort: 7495, lifetimeSeconds: 7200 });
    // Asked again (a renewal): the same mapping.
    expect((await mapTcp(ip, 7495, 7495, 7200, FAST)).externalPort).toBe(7495);
    expect((await mapTcp(ip, 7496, 7495, 7200, FAST)).externalPort).toBe(40_000);
    expect(rules.filter((rule) => rule.includes("DNAT") && rule.includes("PREROUTING")).map((rule) => rule[rule.indexOf("--dport") + 1])).toEqual(["7495", "40000"]);
    await mapTcp(ip, 7495, 0, 0, FAST);
    expect(rules.filter((rule) => rule[2] === "-D")).toHaveLength(3);
  });

  test("a router with nothing on the NAT-PMP port is UNREACHABLE at once, not a crash", async () => {
    const closed = loopbackAddress();
    const started = performance.now();
    await expect(externalAddress(closed, { firstWaitMs: 2_000, tries: 3 })).rejects.toMatchObject({ code: "UNREACHABLE", message: expect.stringMatching(/does not speak NAT-PMP/) });
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  test("a router that never answers is UNREACHABLE after its tries", async () => {
    const silent = await Bun.udpSocket({ hostname: loopbackAddress(), socket: { data() {} } });
    stops.push(() => silent.close());
    await expect(externalAddress(silent.hostname, { ...FAST, port: silent.port })).rejects.toMatchObject({ code: "UNREACHABLE", message: expect.stringMatching(/did not answer NAT-PMP/) });
  });

  test("a refusal says what the router's result code means", async () => {
    const refusing = await Bun.udpSocket({
      hostname: loopbackAddress(),
      socket: {
        data(socket, data, port, address) {
          socket.send(Uint8Array.of(0, 128 + data[1]!, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), port, address);
        },
      },
    });
    stops.push(() => refusing.close());
    await expect(mapTcp(refusing.hostname, 7495, 7495, 7200, { ...FAST, port: refusing.port })).rejects.toMatchObject({ code: "REFUSED", message: expect.stringMatching(/result 2: it refuses/) });
  });

  test("the default route's gateway is read from the route table, and a table without one gives null", () => {
    const dir = tempDir();
    try {
      const table = join(dir.path, "route");
      const header = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
      writeFileSync(table, `${header}eth0\t0004000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\neth0\t00000000\t0104000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n`);
      expect(defaultGateway(table)).toBe("10.0.4.1");
      writeFileSync(table, `${header}eth0\t0004000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n`);
      expect(defaultGateway(table)).toBeNull();
      expect(defaultGateway(join(dir.path, "missing"))).toBeNull();
    } finally {
      dir.remove();
    }
  });
});
