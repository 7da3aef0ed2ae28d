// UPnP IGD's client against real sockets on loopback: the lab's IGD (SSDP, description, SOAP), a port taken, permanent leases only, and devices that answer what no router would.

import { afterEach, describe, expect, test } from "bun:test";
import { MAX_UPNP_BODY_BYTES, discoverIgd, igdExternalAddress, igdMapTcp, igdUnmapTcp } from "../../src/protocol/upnp-igd";
import { LabPortMappings } from "../../src/testnet/lab-port-mappings";
import { startUpnpGateway } from "../../src/testnet/upnp-gateway";
import { loopbackAddress } from "../helpers/wait";

const stops: Array<() => void> = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

const WAN = "203.0.113.14";
const LAN = "127.0.0";
const ROUTER = `${LAN}.1`;

/** The lab's IGD on 127.0.0.1, searched directly (no multicast leaves loopback), its iptables calls recorded. */
async function gateway(options: { onlyPermanentLeases?: boolean } = {}) {
  const rules: string[][] = [];
  const mappings = new LabPortMappings({ wan: WAN, lan: LAN }, (args) => rules.push(args), () => {});
  const igd = await startUpnpGateway({ wan: WAN, lan: LAN, mappings, ssdpPort: 0, log: () => {}, ...options });
  stops.push(() => igd.stop());
  return { igd, rules, mappings, search: { gateway: ROUTER, multicast: false, ssdpPort: igd.ssdpPort, waitMs: 1_000 } };
}

/** A device on loopback that answers every M-SEARCH with `answer(its own http port)`, and serves `body` over HTTP. */
async function oddDevice(answer: (httpPort: number) => string, body: string) {
  const http = Bun.serve({ hostname: ROUTER, port: 0, fetch: () => new Response(body) });
  const ssdp = await Bun.udpSocket({
    hostname: ROUTER,
    socket: {
      data(udp, _data, port, address) {
        udp.send(answer(http.port ?? 0), port, address);
      },
    },
  });
  stops.push(() => {
    ssdp.close();
    void http.stop(true);
  });
  return { gateway: ROUTER, multicast: false, ssdpPort: ssdp.port, waitMs: 500 };
}
const located = (url: string) => `HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: ${url}\r\n\r\n`;

describe("the UPnP IGD client", () => {
  test("finds the router's WAN connection by SSDP, learns its external address, maps a port and removes the mapping", async () => {
    const { search, rules } = await gateway();
    const service = await discoverIgd(search);
    expect(service).toMatchObject({ serviceType: "urn:schemas-upnp-org:service:WANIPConnection:1", router: ROUTER });
    expect(await igdExternalAddress(service)).toBe(WAN);
    expect(await igdMapTcp(service, ROUTER, 7495, 7495, 7200)).toEqual({ externalPort: 7495, lifetimeSeconds: 7200 });
    // Asked again (a renewal): the same mapping, no new rule.
    expect(await igdMapTcp(service, ROUTER, 7495, 7495, 7200)).toEqual({ externalPort: 7495, lifetimeSeconds: 7200 });
    expect(rules.filter((rule) => rule.includes("DNAT") && rule.includes("PREROUTING")).map((rule) => rule[rule.indexOf("--dport") + 1])).toEqual(["7495"]);
    await igdUnmapTcp(service, 7495);
    expect(rules.filter((rule) => rule[2] === "-D")).toHaveLength(3);
  });

  test("a port another host holds is refused (718) and one from the dynamic range is mapped instead", async () => {
    const { search, mappings } = await gateway();
    mappings.add(`${LAN}.9`, 7495, 7495, true);
    const mapping = await igdMapTcp(await discoverIgd(search), ROUTER, 7495, 7495, 7200);
    expect(mapping.externalPort).toBeGreaterThanOrEqual(49_152);
    expect(mappings.holderOf(mapping.externalPort)).toMatchObject({ client: ROUTER, internalPort: 7495 });
  });

  test("a router that grants only permanent mappings (725) is asked for one", async () => {
    const { search } = await gateway({ onlyPermanentLeases: true });
    expect(await igdMapTcp(await discoverIgd(search), ROUTER, 7495, 7495, 7200)).toEqual({ externalPort: 7495, lifetimeSeconds: 0 });
  });

  test("a mapping for another host than the one asking is REFUSED with the router's reason", async () => {
    const { search } = await gateway();
    await expect(igdMapTcp(await discoverIgd(search), `${LAN}.9`, 7495, 7495, 7200)).rejects.toMatchObject({ code: "REFUSED", message: expect.stringContaining("Action not authorized (606)") });
  });

  test("a router that closes the first connection unanswered is asked once more, on a new connection", async () => {
    const description = `<root><device><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>/ctl</controlURL></service></device></root>`;
    let connections = 0;
    const http = Bun.listen({
      hostname: ROUTER,
      port: 0,
      socket: {
        open(socket) {
          if (++connections === 1) return void socket.end();
          socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${description.length}\r\nConnection: close\r\n\r\n${description}`);
        },
        data() {},
      },
    });
    stops.push(() => http.stop(true));
    const search = await oddDevice(() => located(`http://${ROUTER}:${http.port}/rootDesc.xml`), "");
    expect(await discoverIgd(search)).toMatchObject({ controlUrl: `http://${ROUTER}:${http.port}/ctl` });
    expect(connections).toBe(2);
  });

  test("when nothing answers the search, discovery is UNREACHABLE within its wait", async () => {
    const silent = await Bun.udpSocket({ hostname: ROUTER });
    stops.push(() => silent.close());
    const started = performance.now();
    await expect(discoverIgd({ gateway: ROUTER, multicast: false, ssdpPort: silent.port, waitMs: 400 })).rejects.toMatchObject({ code: "UNREACHABLE", message: expect.stringMatching(/no UPnP gateway answered/) });
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  test("a router with nothing on the SSDP port (ICMP port unreachable, then ECONNREFUSED on the next send) is UNREACHABLE, not a crash", async () => {
    const nobody = loopbackAddress();
    await expect(discoverIgd({ gateway: nobody, multicast: false, waitMs: 400 })).rejects.toMatchObject({ code: "UNREACHABLE", message: expect.stringMatching(/no UPnP gateway answered/) });
  });

  test("the lab's IGD goes on answering after searchers left before their answers came", async () => {
    const { search } = await gateway();
    for (let round = 0; round < 5; round++) {
      const gone = await Bun.udpSocket({ hostname: ROUTER });
      gone.send("M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n", search.ssdpPort, ROUTER);
      gone.close();
      await Bun.sleep(10);
    }
    expect((await discoverIgd(search)).router).toBe(ROUTER);
  });

  test("an answer whose LOCATION names another host than the one answering is ignored: nothing is fetched there", async () => {
    let fetched = 0;
    const elsewhere = Bun.serve({ hostname: "127.0.0.2", port: 0, fetch: () => (fetched++, new Response("")) });
    stops.push(() => void elsewhere.stop(true));
    const search = await oddDevice(() => located(`http://127.0.0.2:${elsewhere.port}/rootDesc.xml`), "");
    await expect(discoverIgd(search)).rejects.toMatchObject({ code: "UNREACHABLE" });
    expect(fetched).toBe(0);
  });

  test("a description larger than MAX_UPNP_BODY_BYTES is MALFORMED, not read to its end", async () => {
    const search = await oddDevice((port) => located(`http://${ROUTER}:${port}/rootDesc.xml`), "<root>".padEnd(MAX_UPNP_BODY_BYTES + 1, " "));
    await expect(discoverIgd(search)).rejects.toMatchObject({ code: "MALFORMED", message: expect.stringContaining("more than 64 KiB") });
  });

  test("a device whose control URL points at another host offers no connection service: MALFORMED", async () => {
    const service = "<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>http://127.0.0.2:80/ctl</controlURL></service>";
    const search = await oddDevice((port) => located(`http://${ROUTER}:${port}/rootDesc.xml`), `<root><device>${service}</device></root>`);
    await expect(discoverIgd(search)).rejects.toMatchObject({ code: "MALFORMED", message: expect.stringContaining("offers no WAN connection service") });
  });
});
