// The NAT lab's NAT-PMP gateway for router D, run inside D's namespace (lab-gateway.ts): it answers RFC 6886 requests from D's LAN with mappings made real by LabPortMappings.
// It stands in for miniupnpd's NAT-PMP, which Debian's miniupnpd 2.3.1 refuses behind a reserved WAN address (203.0.113.0/24 is one); the lab is never on a real network.

import { LabPortMappings, type LabRouterAddresses } from "./lab-port-mappings";
import { sendOrNote } from "./lab-udp";

const NAT_PMP_PORT = 5351;
/** RFC 6886 §3.5 result codes the gateway sends. */
const NOT_AUTHORIZED = 2;
const OUT_OF_RESOURCES = 4;
const UNSUPPORTED_OPCODE = 5;

export interface GatewayOptions extends LabRouterAddresses {
  /** The hosts it maps for; the others are told "not authorized" (2), as a router with NAT-PMP turned off for them. Default: all. */
  hosts?: readonly string[];
  /** The router's table, shared with its UPnP gateway; default: one of its own. */
  mappings?: LabPortMappings;
  /** Runs one iptables command (tests replace it), for a table of its own. */
  iptables?: (args: string[]) => void;
  log?: (line: string) => void;
}

/** Listens on `<lan>.1:5351`; resolves with a stop function once listening. */
export async function startNatPmpGateway(options: GatewayOptions): Promise<() => void> {
  const log = options.log ?? ((line: string) => console.log(line));
  const mappings = options.mappings ?? new LabPortMappings(options, options.iptables, log);
  const epoch = Date.now();
  const socket = await Bun.udpSocket({
    hostname: `${options.lan}.1`,
    port: NAT_PMP_PORT,
    socket: {
      data(udp, data, port, address) {
        if (!address.startsWith(`${options.lan}.`) || data.length < 2 || data[0] !== 0) return;
        const allowed = options.hosts === undefined || options.hosts.includes(address);
        const reply = answer(new Uint8Array(data), address, { mappings, wan: options.wan, allowed, seconds: Math.floor((Date.now() - epoch) / 1000) });
        if (reply) sendOrNote(udp, reply, port, address, log);
      },
      error() {},
    },
  });
  log(`NAT-PMP gateway on ${options.lan}.1:${NAT_PMP_PORT} for external ${options.wan}${options.hosts ? ` (for ${options.hosts.join(", ") || "no host"})` : ""}`);
  return () => socket.close();
}

type State = { mappings: LabPortMappings; wan: string; allowed: boolean; seconds: number };

function answer(request: Uint8Array, client: string, state: State): Uint8Array | null {
  const op = request[1]!;
  const reply = new DataView(new ArrayBuffer(op === 0 ? 12 : 16));
  reply.setUint8(1, 128 + op);
  reply.setUint32(4, state.seconds);
  if (!state.allowed) {
    reply.setUint16(2, NOT_AUTHORIZED);
    return new Uint8Array(reply.buffer);
  }
  if (op === 0) {
    state.wan.split(".").forEach((octet, index) => reply.setUint8(8 + index, Number(octet)));
    return new Uint8Array(reply.buffer);
  }
  if (op !== 2 || request.length < 12) {
    reply.setUint16(2, UNSUPPORTED_OPCODE); // UDP mappings are not the lab's
    return new Uint8Array(reply.buffer);
  }
  const view = new DataView(request.buffer, request.byteOffset, request.byteLength);
  const internalPort = view.getUint16(4);
  const lifetime = view.getUint32(8);
  reply.setUint16(8, internalPort);
  const held = state.mappings.find(client, internalPort);
  if (lifetime === 0) {
    if (held) state.mappings.remove(held);
    return new Uint8Array(reply.buffer);
  }
  const mapping = held ?? state.mappings.add(client, internalPort, view.getUint16(6));
  if (!mapping) {
    reply.setUint16(2, OUT_OF_RESOURCES);
    return new Uint8Array(reply.buffer);
  }
  reply.setUint16(10, mapping.externalPort);
  reply.setUint32(12, lifetime);
  return new Uint8Array(reply.buffer);
}
