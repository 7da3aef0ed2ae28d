// The NAT lab's UPnP IGD for router D, run inside D's namespace (lab-gateway.ts): SSDP answers on the LAN, a device description, and WANIPConnection:1's SOAP actions over HTTP, with mappings made real by LabPortMappings.
// It stands in for miniupnpd, whose Debian version (2.3.1) refuses every mapping behind a reserved WAN address (203.0.113.0/24 is one).

import { canonicalIp } from "../protocol/ip";
import { SSDP_ADDRESS, SSDP_PORT } from "../protocol/upnp-igd";
import { LabPortMappings, type LabRouterAddresses } from "./lab-port-mappings";
import { sendOrNote } from "./lab-udp";

const SERVICE_TYPE = "urn:schemas-upnp-org:service:WANIPConnection:1";
const DEVICE_TYPE = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";
const CONTROL_PATH = "/ctl/IPConn";
const DESCRIPTION_PATH = "/rootDesc.xml";
/** A SOAP request larger than this is refused unread. */
const MAX_REQUEST_BYTES = 16 * 1024;

export interface UpnpGatewayOptions extends LabRouterAddresses {
  /** The router's table, shared with its NAT-PMP gateway; default: one of its own. */
  mappings?: LabPortMappings;
  iptables?: (args: string[]) => void;
  log?: (line: string) => void;
  /** SSDP's port (1900; tests take any free one) and the HTTP server's (any free one). */
  ssdpPort?: number;
  httpPort?: number;
  /** Listen for SSDP's multicast group on the LAN (off in tests on loopback: they search the gateway directly). */
  multicast?: boolean;
  /** Refuse leases other than 0 (error 725), as some routers do. */
  onlyPermanentLeases?: boolean;
}

export interface UpnpGateway {
  ssdpPort: number;
  httpPort: number;
  stop(): void;
}

/** Answers SSDP searches and SOAP calls from `<lan>.0/24` only; resolves once both listen. */
export async function startUpnpGateway(options: UpnpGatewayOptions): Promise<UpnpGateway> {
  const log = options.log ?? ((line: string) => console.log(line));
  const mappings = options.mappings ?? new LabPortMappings(options, options.iptables, log);
  const router = `${options.lan}.1`;
  const fromLan = (address: string) => (canonicalIp(address) ?? "").startsWith(`${options.lan}.`);
  const http = Bun.serve({
    hostname: router,
    port: options.httpPort ?? 0,
    maxRequestBodySize: MAX_REQUEST_BYTES,
    async fetch(request, server) {
      const client = canonicalIp(server.requestIP(request)?.address ?? "") ?? "";
      if (!fromLan(client)) return new Response("not from this router's LAN", { status: 403 });
      const path = new URL(request.url).pathname;
      if (request.method === "GET" && path === DESCRIPTION_PATH) return xml(description(), 200);
      if (request.method !== "POST" || path !== CONTROL_PATH) return new Response("no such thing here", { status: 404 });
      const action = /#(\w+)"?$/.exec(request.headers.get("soapaction") ?? "")?.[1] ?? "";
      return control(action, await request.text(), client, { ...options, mappings });
    },
  });
  const ssdp = await Bun.udpSocket({
    hostname: options.multicast ? "0.0.0.0" : router,
    port: options.ssdpPort ?? SSDP_PORT,
    socket: {
      data(udp, data, port, address) {
        const search = new TextDecoder().decode(data.subarray(0, 2048));
        if (!fromLan(address) || !search.startsWith("M-SEARCH") || !/^ST:\s*(ssdp:all|upnp:rootdevice|urn:schemas-upnp-org:(device:InternetGatewayDevice|service:WANIPConnection):\d)\s*$/im.test(search)) return;
        const location = `http://${router}:${http.port}${DESCRIPTION_PATH}`;
        const answer = ["HTTP/1.1 200 OK", "CACHE-CONTROL: max-age=120", `ST: ${DEVICE_TYPE}`, `USN: uuid:5f3c1e2a-6b7d-4c8e-9f10-112233445566::${DEVICE_TYPE}`, "EXT:", "SERVER: Linux UPnP/1.1 p2p-natlab/1", `LOCATION: ${location}`, "", ""];
        sendOrNote(udp, answer.join("\r\n"), port, address, log);
      },
      // An ICMP "port unreachable" for an answer to a searcher that already left: nothing to do.
      error() {},
    },
  });
  if (options.multicast) ssdp.addMembership(SSDP_ADDRESS, router);
  log(`UPnP IGD on ${router} (SSDP ${ssdp.port}, HTTP ${http.port}) for external ${options.wan}`);
  return {
    ssdpPort: ssdp.port,
    httpPort: http.port ?? 0,
    stop() {
      ssdp.close();
      void http.stop(true);
    },
  };
}

/** One SOAP action from `client`: only for itself, TCP only, a taken port is 718 (as miniupnpd in secure mode). */
function control(action: string, body: string, client: string, options: UpnpGatewayOptions & { mappings: LabPortMappings }): Response {
  const { mappings } = options;
  const arg = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1]?.trim() ?? "";
  if (action === "GetExternalIPAddress") return soapReply(action, `<NewExternalIPAddress>${options.wan}</NewExternalIPAddress>`);
  if (action === "AddPortMapping") {
    const [externalPort, internalPort] = [Number(arg("NewExternalPort")), Number(arg("NewInternalPort"))];
    if (arg("NewInternalClient") !== client) return upnpError(606, "Action not authorized");
    if (arg("NewProtocol") !== "TCP" || !(externalPort > 0 && externalPort < 65_536) || !(internalPort > 0 && internalPort < 65_536)) return upnpError(402, "Invalid Args");
    if (options.onlyPermanentLeases && arg("NewLeaseDuration") !== "0") return upnpError(725, "OnlyPermanentLeasesSupported");
    const holder = mappings.holderOf(externalPort);
    if (holder && (holder.client !== client || holder.internalPort !== internalPort)) return upnpError(718, "ConflictInMappingEntry");
    if (!holder && !mappings.add(client, internalPort, externalPort, true, "UPnP")) return upnpError(728, "NoPortMapsAvailable");
    return soapReply(action, "");
  }
  if (action === "DeletePortMapping") {
    const holder = mappings.holderOf(Number(arg("NewExternalPort")));
    if (!holder || holder.client !== client) return upnpError(714, "NoSuchEntryInArray");
    mappings.remove(holder);
    return soapReply(action, "");
  }
  return upnpError(401, "Invalid Action");
}

function description(): string {
  const service = `<service><serviceType>${SERVICE_TYPE}</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><controlURL>${CONTROL_PATH}</controlURL><eventSubURL>/evt/IPConn</eventSubURL><SCPDURL>/WANIPCn.xml</SCPDURL></service>`;
  const connection = `<device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType><friendlyName>WAN connection</friendlyName><serviceList>${service}</serviceList></device>`;
  const wan = `<device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType><friendlyName>WAN</friendlyName><deviceList>${connection}</deviceList></device>`;
  return `<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>0</minor></specVersion><device><deviceType>${DEVICE_TYPE}</deviceType><friendlyName>p2p natlab router</friendlyName><deviceList>${wan}</deviceList></device></root>`;
}

function soapReply(action: string, body: string): Response {
  return xml(`<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:${action}Response xmlns:u="${SERVICE_TYPE}">${body}</u:${action}Response></s:Body></s:Envelope>`, 200);
}

function upnpError(code: number, description: string): Response {
  const detail = `<detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode><errorDescription>${description}</errorDescription></UPnPError></detail>`;
  return xml(`<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring>${detail}</s:Fault></s:Body></s:Envelope>`, 500);
}

function xml(text: string, status: number): Response {
  return new Response(text, { status, headers: { "Content-Type": 'text/xml; charset="utf-8"' } });
}
