// UPnP IGD (Internet Gateway Device), the client's half: find the router's WAN connection service by SSDP, then ask it over SOAP for its external address and TCP port mappings.

import { isIP } from "node:net";
import { P2PError } from "./errors";

/** SSDP's multicast group and port (UPnP Device Architecture 1.1, §1.3). */
export const SSDP_ADDRESS = "239.255.255.250";
export const SSDP_PORT = 1900;
/** How long discovery waits for a router to answer an M-SEARCH (sent again half way); its MX asks for an answer within 1 s. */
export const SSDP_WAIT_MS = 2_000;
/** Each HTTP exchange with the router (its description, a SOAP call) must end within this, per try. */
export const UPNP_HTTP_TIMEOUT_MS = 3_000;
/** Tries of one HTTP exchange whose connection fails (reset, refused); one that times out is not tried again. */
export const UPNP_HTTP_TRIES = 2;
/** A device description or SOAP reply larger than this is no router's: the exchange is refused. */
export const MAX_UPNP_BODY_BYTES = 64 * 1024;
/** External ports tried when the one wished for is taken (error 718): the wished one, then this many at random. */
export const SPARE_PORT_TRIES = 3;
/** Where those spare ports are drawn from (the dynamic range). */
const SPARE_PORTS = { first: 49_152, last: 65_535 };

/** A router's WAN connection service, where its SOAP calls go. */
export type IgdService = { controlUrl: string; serviceType: string; router: string };
export type IgdMapping = { externalPort: number; lifetimeSeconds: number };

export interface DiscoverOptions {
  /** The router on the default route: the M-SEARCH also goes to it directly (UDA 1.1 allows unicast searches). */
  gateway: string | null;
  /** Also search by multicast, as UDA says (off in tests: nothing of theirs may leave loopback). */
  multicast?: boolean;
  ssdpPort?: number;
  waitMs?: number;
}

/**
 * Finds the router's WANIPConnection (or WANPPPConnection) service: an M-SEARCH for an InternetGatewayDevice, the
 * description at the LOCATION of the first answer, the control URL of its connection service. Only a device's
 * description of itself counts: its LOCATION and control URL must name the address the answer came from.
 * Rejects UNREACHABLE when nothing answers, MALFORMED when what answers is no IGD.
 */
export async function discoverIgd(options: DiscoverOptions): Promise<IgdService> {
  const location = await searchGateway(options);
  const description = await httpText(location.href, { method: "GET" });
  const service = connectionService(description, location);
  if (service === null) throw new P2PError("MALFORMED", `the UPnP device at ${location.hostname} offers no WAN connection service`);
  return service;
}

/** The router's external IPv4 address (GetExternalIPAddress). */
export async function igdExternalAddress(service: IgdService): Promise<string> {
  const ip = field(succeeded(service, "GetExternalIPAddress", await soap(service, "GetExternalIPAddress", {})), "NewExternalIPAddress");
  if (ip === null || isIP(ip) !== 4) throw new P2PError("MALFORMED", `the router at ${service.router} gave no external IPv4 address over UPnP`);
  return ip;
}

/**
 * Maps TCP `externalPort` (or, when it is taken, another: SPARE_PORT_TRIES at random) to `client:internalPort` for
 * `lifetimeSeconds`; a router that grants only permanent mappings (error 725) gets one, which the node removes when it stops.
 */
export async function igdMapTcp(service: IgdService, client: string, internalPort: number, externalPort: number, lifetimeSeconds: number): Promise<IgdMapping> {
  const spare = () => SPARE_PORTS.first + Math.floor(Math.random() * (SPARE_PORTS.last - SPARE_PORTS.first + 1));
  const ports = [externalPort, ...Array.from({ length: SPARE_PORT_TRIES }, spare)];
  let lease = lifetimeSeconds;
  for (const port of ports) {
    const mapping = { NewRemoteHost: "", NewExternalPort: String(port), NewProtocol: "TCP", NewInternalPort: String(internalPort), NewInternalClient: client, NewEnabled: "1", NewPortMappingDescription: "p2p" };
    let reply = await soap(service, "AddPortMapping", { ...mapping, NewLeaseDuration: String(lease) });
    if (!reply.ok && reply.code === ONLY_PERMANENT_LEASES && lease !== 0) {
      lease = 0;
      reply = await soap(service, "AddPortMapping", { ...mapping, NewLeaseDuration: "0" });
    }
    if (!reply.ok && reply.code === CONFLICT_IN_MAPPING_ENTRY) continue;
    succeeded(service, "AddPortMapping", reply);
    return { externalPort: port, lifetimeSeconds: lease };
  }
  throw new P2PError("REFUSED", `the router at ${service.router} had none of the ${ports.length} ports tried free over UPnP`);
}

/** Removes the mapping of TCP `externalPort` (DeletePortMapping). */
export async function igdUnmapTcp(service: IgdService, externalPort: number): Promise<void> {
  succeeded(service, "DeletePortMapping", await soap(service, "DeletePortMapping", { NewRemoteHost: "", NewExternalPort: String(externalPort), NewProtocol: "TCP" }));
}

/** UPnP error codes (IGD WANIPConnection:1, §2.4.16). */
const CONFLICT_IN_MAPPING_ENTRY = 718;
const ONLY_PERMANENT_LEASES = 725;

type SoapReply = { ok: true; text: string } | { ok: false; status: number; code: number | null; description: string | null };

/** The LOCATION of the first IGD that answers, sent to the gateway and (unless turned off) the multicast group. */
async function searchGateway(options: DiscoverOptions): Promise<URL> {
  const port = options.ssdpPort ?? SSDP_PORT;
  const targets = [...(options.gateway ? [options.gateway] : []), ...(options.multicast === false ? [] : [SSDP_ADDRESS])];
  if (targets.length === 0) throw new P2PError("UNREACHABLE", "no router to ask for UPnP (no default route)");
  const request = new TextEncoder().encode(["M-SEARCH * HTTP/1.1", `HOST: ${SSDP_ADDRESS}:${SSDP_PORT}`, 'MAN: "ssdp:discover"', "MX: 1", "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1", "", ""].join("\r\n"));
  let found: ((location: URL) => void) | null = null;
  const answered = new Promise<URL>((resolve) => (found = resolve));
  const socket = await Bun.udpSocket({
    socket: {
      // An ICMP "port unreachable" from one target says nothing of the other: the search waits its time out.
      error() {},
      data(_socket, data, _port, fromAddress) {
        const location = locationOf(new TextDecoder().decode(data.subarray(0, MAX_UPNP_BODY_BYTES)));
        if (location !== null && location.hostname === fromAddress) found?.(location);
      },
    },
  });
  const wait = options.waitMs ?? SSDP_WAIT_MS;
  const timers: ReturnType<typeof setTimeout>[] = [];
  let sendFailure: string | null = null;
  try {
    const send = () => {
      for (const target of targets) {
        try {
          socket.send(request, port, target);
        } catch (error) {
          // The router's ICMP "port unreachable" for an earlier search surfaces on the next send (ECONNREFUSED): no SSDP
          // there. That, or anything else the kernel refuses, is part of the answer the wait gives, never a crash.
          if (!(error instanceof Error)) throw error;
          sendFailure = `${target}: ${error.message}`;
        }
      }
    };
    send();
    timers.push(setTimeout(send, wait / 2));
    const timedOut = new Promise<null>((resolve) => timers.push(setTimeout(() => resolve(null), wait)));
    const location = await Promise.race([answered, timedOut]);
    if (location === null) throw new P2PError("UNREACHABLE", `no UPnP gateway answered within ${wait / 1000} s (asked ${targets.join(" and ")}${sendFailure === null ? "" : `; ${sendFailure}`})`);
    return location;
  } finally {
    timers.forEach(clearTimeout);
    socket.close();
  }
}

/** The http LOCATION of an SSDP answer, or null. */
function locationOf(answer: string): URL | null {
  if (!/^HTTP\/1\.1 200/i.test(answer)) return null;
  const header = /^location:\s*(\S+)\s*$/im.exec(answer);
  if (!header) return null;
  try {
    const url = new URL(header[1]!);
    return url.protocol === "http:" ? url : null;
  } catch {
    return null;
  }
}

/** The first WAN connection service of a device description, its control URL resolved and kept on the device's own host. */
function connectionService(description: string, location: URL): IgdService | null {
  const base = field(description, "URLBase") ?? location.href;
  for (const block of description.match(/<service>[\s\S]*?<\/service>/g) ?? []) {
    const serviceType = field(block, "serviceType");
    const control = field(block, "controlURL");
    if (serviceType === null || control === null || !/^urn:schemas-upnp-org:service:WAN(IP|PPP)Connection:\d$/.test(serviceType)) continue;
    try {
      const url = new URL(control, base);
      if (url.protocol === "http:" && url.hostname === location.hostname) return { controlUrl: url.href, serviceType, router: location.hostname };
    } catch {
      continue;
    }
  }
  return null;
}

/** One SOAP action: the reply's text, or what the router's error reply says. */
async function soap(service: IgdService, action: string, args: Record<string, string>): Promise<SoapReply> {
  const body = Object.entries(args)
    .map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`)
    .join("");
  const envelope = `<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:${action} xmlns:u="${service.serviceType}">${body}</u:${action}></s:Body></s:Envelope>\r\n`;
  const headers = { "Content-Type": 'text/xml; charset="utf-8"', SOAPAction: `"${service.serviceType}#${action}"` };
  const { status, text } = await httpExchange(service.controlUrl, { method: "POST", headers, body: envelope });
  if (status === 200) return { ok: true, text };
  const code = Number(field(text, "errorCode"));
  return { ok: false, status, code: Number.isInteger(code) && code > 0 ? code : null, description: field(text, "errorDescription") };
}

/** The text of a successful reply; an error reply is REFUSED with the router's reason. */
function succeeded(service: IgdService, action: string, reply: SoapReply): string {
  if (reply.ok) return reply.text;
  const why = reply.description ?? `HTTP ${reply.status}`;
  throw new P2PError("REFUSED", `the router at ${service.router} refused ${action} over UPnP: ${why}${reply.code === null ? "" : ` (${reply.code})`}`);
}

/** A GET whose answer must be 200. */
async function httpText(url: string, init: RequestInit): Promise<string> {
  const { status, text } = await httpExchange(url, init);
  if (status !== 200) throw new P2PError("UNREACHABLE", `the UPnP gateway at ${new URL(url).host} answered HTTP ${status}`);
  return text;
}

/** A bounded HTTP exchange with the router: its status and at most MAX_UPNP_BODY_BYTES of text. */
async function httpExchange(url: string, init: RequestInit): Promise<{ status: number; text: string }> {
  // A new connection each time, as routers' small HTTP servers expect: a kept-alive one they have closed meanwhile
  // would be reset under the next request. A reset or refusal is tried once more.
  const headers = { ...(init.headers as Record<string, string> | undefined), Connection: "close" };
  for (let attempt = 1; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, { ...init, headers, keepalive: false, redirect: "error", signal: AbortSignal.timeout(UPNP_HTTP_TIMEOUT_MS) });
    } catch (error) {
      if (attempt < UPNP_HTTP_TRIES && !(error instanceof DOMException && error.name === "TimeoutError")) continue;
      throw new P2PError("UNREACHABLE", `the UPnP gateway at ${new URL(url).host} did not answer: ${(error as Error).message}`);
    }
    return { status: response.status, text: await boundedText(response, url) };
  }
}

async function boundedText(response: Response, url: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  while (reader) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_UPNP_BODY_BYTES) {
      await reader.cancel();
      throw new P2PError("MALFORMED", `the UPnP gateway at ${new URL(url).host} sent more than ${MAX_UPNP_BODY_BYTES / 1024} KiB`);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/** The text of the first `<name>` element (any namespace prefix), unescaped; null when there is none. */
function field(xml: string, name: string): string | null {
  const match = new RegExp(`<(?:[\\w-]+:)?${name}(?:\\s[^>]*)?>([^<]*)</(?:[\\w-]+:)?${name}>`).exec(xml);
  return match ? unescapeXml(match[1]!.trim()) : null;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function unescapeXml(text: string): string {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
}
