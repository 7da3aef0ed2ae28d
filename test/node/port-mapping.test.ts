// PortMapping against the lab's gateways on loopback: NAT-PMP first, UPnP IGD when NAT-PMP is refused, removal on close, and one line of reasons when neither maps.

import { afterEach, describe, expect, test } from "bun:test";
import { PortMapping } from "../../src/node/port-mapping";
import { LabPortMappings } from "../../src/testnet/lab-port-mappings";
import { startNatPmpGateway } from "../../src/testnet/natpmp-gateway";
import { startUpnpGateway } from "../../src/testnet/upnp-gateway";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loopbackAddress, tempDir } from "../helpers/wait";

const stops: Array<() => void> = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

const WAN = "203.0.113.14";
const LAN = "127.0.0";
const ROUTER = `${LAN}.1`;
const LISTEN = { hostname: ROUTER, port: 7495 };

/** Router D as the lab runs it: one table, NAT-PMP for `natPmpHosts` only, UPnP for every host. */
async function router(natPmpHosts: string[]) {
  const mappings = new LabPortMappings({ wan: WAN, lan: LAN }, () => {}, () => {});
  stops.push(await startNatPmpGateway({ wan: WAN, lan: LAN, mappings, hosts: natPmpHosts, log: () => {} }));
  const igd = await startUpnpGateway({ wan: WAN, lan: LAN, mappings, ssdpPort: 0, log: () => {} });
  stops.push(() => igd.stop());
  return { mappings, upnp: { multicast: false, ssdpPort: igd.ssdpPort, waitMs: 1_000 } };
}

function logLines() {
  const lines: string[] = [];
  return { lines, log: { info: (line: string) => lines.push(line), warn: (line: string) => lines.push(`warn: ${line}`) } };
}

describe("PortMapping.open", () => {
  test("a router that maps by NAT-PMP is asked that way first", async () => {
    const { mappings, upnp } = await router([ROUTER]);
    const { lines, log } = logLines();
    const mapping = (await PortMapping.open(LISTEN, log, { gateway: ROUTER, upnp }))!;
    stops.push(() => void mapping.close());
    expect(mapping.method).toBe("NAT-PMP");
    expect(mapping.address).toBe(`${WAN}:7495`);
    expect(mappings.holderOf(7495)).toMatchObject({ client: ROUTER, internalPort: 7495 });
    expect(lines).toEqual([`the router at ${ROUTER} mapped ${WAN}:7495 to this node's port 7495 (NAT-PMP)`]);
  });

  test("a router that refuses NAT-PMP to this host maps its port by UPnP IGD, and close removes the mapping", async () => {
    const { mappings, upnp } = await router([]);
    const { lines, log } = logLines();
    const mapping = (await PortMapping.open(LISTEN, log, { gateway: ROUTER, upnp }))!;
    expect(mapping.method).toBe("UPnP");
    expect(mapping.external).toEqual({ ip: WAN, port: 7495 });
    expect(lines).toEqual([`the router at ${ROUTER} mapped ${WAN}:7495 to this node's port 7495 (UPnP)`]);
    await mapping.close();
    expect(mappings.holderOf(7495)).toBeUndefined();
  });

  test("a node that listens on loopback asks no router, and says so", async () => {
    const dir = tempDir();
    stops.push(() => dir.remove());
    // Were the rule broken, the routes read name a router on loopback, and no search is multicast: nothing leaves the host.
    const routeTable = join(dir.path, "route");
    writeFileSync(routeTable, "Iface\tDestination\tGateway\nlo\t00000000\t0100007F\n");
    const { lines, log } = logLines();
    expect(await PortMapping.open({ hostname: "127.0.0.5", port: 7495 }, log, { routeTable, upnp: { multicast: false, waitMs: 300 } })).toBeNull();
    expect(lines).toEqual(["no port mapping: this node listens on loopback (127.0.0.5)"]);
  });

  test("when neither method maps, it says why for each in one line and the node goes on without a mapping", async () => {
    const { lines, log } = logLines();
    // Nothing listens at a random loopback address: NAT-PMP's port is closed (a quick "no"), and no UPnP search is answered.
    const nobody = loopbackAddress();
    expect(await PortMapping.open({ hostname: nobody, port: 7495 }, log, { gateway: nobody, upnp: { multicast: false, waitMs: 300 } })).toBeNull();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^no port mapping: .*does not speak NAT-PMP.*; no UPnP gateway answered within 0\.3 s/);
  });
});
