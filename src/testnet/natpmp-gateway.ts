// The NAT lab's NAT-PMP gateway for router D, run inside D's namespace: it answers RFC 6886 requests from D's LAN and makes each mapping real with iptables (DNAT, a forward rule, hairpin).
// It stands in for miniupnpd's NAT-PMP, which Debian's miniupnpd 2.3.1 refuses behind a reserved WAN address (203.0.113.0/24 is one); the lab is never on a real network.
//
// bun src/testnet/natpmp-gateway.ts --wan 203.0.113.14 --lan 10.0.4 (as root, inside the router's namespace)

import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

/** External ports handed out when the one asked for is taken. */
const FIRST_SPARE_PORT = 40_000;
/** Mappings one gateway holds at most (the lab has two hosts behind it). */
const MAX_MAPPINGS = 64;
const NAT_PMP_PORT = 5351;

type Mapping = { client: string; internalPort: number; externalPort: number };

export interface GatewayOptions {
  wan: string;
  /** The LAN's first three octets: the gateway is `<lan>.1`, hosts `<lan>.0/24`. */
  lan: string;
  /** Runs one iptables command (tests replace it). */
  iptables?: (args: string[]) => void;
  log?: (line: string) => void;
}

/** Listens on `<lan>.1:5351`; resolves with a stop function once listening. */
export async function startNatPmpGateway(options: GatewayOptions): Promise<() => void> {
  const mappings: Mapping[] = [];
  const epoch = Date.now();
  const iptables = options.iptables ?? runIptables;
  const log = options.log ?? ((line: string) => console.log(line));
  const socket = await Bun.udpSocket({
    hostname: `${options.lan}.1`,
    port: NAT_PMP_PORT,
    socket: {
      data(udp, data, port, address) {
        if (!address.startsWith(`${options.lan}.`) || data.length < 2 || data[0] !== 0) return;
        const reply = answer(new Uint8Array(data), address, { mappings, options, iptables, log, seconds: Math.floor((Date.now() - epoch) / 1000) });
        if (reply) udp.send(reply, port, address);
      },
    },
  });
  log(`NAT-PMP gateway on ${options.lan}.1:${NAT_PMP_PORT} for external ${options.wan}`);
  return () => socket.close();
}

type State = { mappings: Mapping[]; options: GatewayOptions; iptables: (args: string[]) => void; log: (line: string) => void; seconds: number };

function answer(request: Uint8Array, client: string, state: State): Uint8Array | null {
  const op = request[1]!;
  const reply = new DataView(new ArrayBuffer(op === 0 ? 12 : 16));
  reply.setUint8(1, 128 + op);
  reply.setUint32(4, state.seconds);
  if (op === 0) {
    state.options.wan.split(".").forEach((octet, index) => reply.setUint8(8 + index, Number(octet)));
    return new Uint8Array(reply.buffer);
  }
  if (op !== 2 || request.length < 12) {
    reply.setUint16(2, 5); // unsupported opcode (UDP mappings are not the lab's)
    return new Uint8Array(reply.buffer);
  }
  const view = new DataView(request.buffer, request.byteOffset, request.byteLength);
  const internalPort = view.getUint16(4);
  const lifetime = view.getUint32(8);
  reply.setUint16(8, internalPort);
  if (lifetime === 0) {
    remove(state, client, internalPort);
    return new Uint8Array(reply.buffer);
  }
  const mapping = state.mappings.find((held) => held.client === client && held.internalPort === internalPort) ?? add(state, client, internalPort, view.getUint16(6));
  if (!mapping) {
    reply.setUint16(2, 4); // out of resources
    return new Uint8Array(reply.buffer);
  }
  reply.setUint16(10, mapping.externalPort);
  reply.setUint32(12, lifetime);
  return new Uint8Array(reply.buffer);
}

function add(state: State, client: string, internalPort: number, wished: number): Mapping | null {
  if (state.mappings.length >= MAX_MAPPINGS) return null;
  const taken = (port: number) => state.mappings.some((held) => held.externalPort === port);
  let externalPort = wished > 0 && !taken(wished) ? wished : FIRST_SPARE_PORT;
  while (taken(externalPort)) externalPort++;
  const mapping = { client, internalPort, externalPort };
  for (const rule of rules(state.options, mapping)) state.iptables(["-t", rule.table, rule.chain === "FORWARD" ? "-I" : "-A", rule.chain, ...rule.spec]);
  state.mappings.push(mapping);
  state.log(`mapped ${state.options.wan}:${externalPort} to ${client}:${internalPort}`);
  return mapping;
}

function remove(state: State, client: string, internalPort: number): void {
  const index = state.mappings.findIndex((held) => held.client === client && held.internalPort === internalPort);
  if (index < 0) return;
  const [mapping] = state.mappings.splice(index, 1);
  for (const rule of rules(state.options, mapping!)) state.iptables(["-t", rule.table, "-D", rule.chain, ...rule.spec]);
  state.log(`unmapped ${state.options.wan}:${mapping!.externalPort}`);
}

/**
 * What makes one mapping real: inbound DNAT (from the WAN and, for hairpin, from the LAN), the forward the router's
 * policy would drop (inserted first, before its `-i wan -j DROP`), and the hairpin's source NAT.
 */
function rules({ wan, lan }: GatewayOptions, { client, internalPort, externalPort }: Mapping): { table: string; chain: string; spec: string[] }[] {
  const port = String(internalPort);
  return [
    { table: "nat", chain: "PREROUTING", spec: ["-d", wan, "-p", "tcp", "--dport", String(externalPort), "-j", "DNAT", "--to-destination", `${client}:${port}`] },
    { table: "filter", chain: "FORWARD", spec: ["-d", client, "-p", "tcp", "--dport", port, "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"] },
    { table: "nat", chain: "POSTROUTING", spec: ["-s", `${lan}.0/24`, "-d", client, "-p", "tcp", "--dport", port, "-j", "MASQUERADE"] },
  ];
}

function runIptables(args: string[]): void {
  const result = spawnSync("iptables", ["-w", "5", ...args], { encoding: "utf8", timeout: 10_000 });
  if (result.status !== 0) console.error(`iptables ${args.join(" ")}: ${result.stderr.trim()}`);
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { wan: { type: "string" }, lan: { type: "string" } } });
  if (!values.wan || !values.lan) {
    console.error("usage: natpmp-gateway --wan <external ip> --lan <first three octets>");
    process.exit(2);
  }
  await startNatPmpGateway({ wan: values.wan, lan: values.lan });
}
