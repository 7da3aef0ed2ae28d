// The NAT lab's layout as data: which namespaces exist, which router each host sits behind, and every address (no side effects).

/** What a router does to traffic between its LAN and the public segment. */
export type RouterKind = "masquerade" | "symmetric" | "firewall" | "upnp";

export interface LabRouter {
  /** Short name: a, b, c, d. */
  name: string;
  kind: RouterKind;
  /** Its address on the public segment. */
  wan4: string;
  /** The LAN side: `<prefix>.1/24` is the router, hosts from `<prefix>.2`. */
  lanPrefix: string;
  /** Answers unsolicited packets to its own WAN address with a reset instead of dropping them (docs/NAT.md, "Hole punching in the lab"). */
  resetsUnsolicited?: boolean;
}

export interface LabHost {
  /** Short name: dns, pub1, a1, ... (also the namespace's last part). */
  name: string;
  /** The router it sits behind; null on the public segment. */
  router: string | null;
  ipv4: string | null;
  ipv6: string | null;
}

export interface LabPlan {
  routers: LabRouter[];
  /** The DNS first, then the nodes. */
  hosts: LabHost[];
}

/** The public segment, both families (documentation ranges: no real host is ever named). */
export const PUBLIC_V4_PREFIX = "203.0.113";
export const PUBLIC_V6_PREFIX = "2001:db8::";
/** The firewall-only router's LAN: routed, not NATed, so it needs public addresses of its own. */
export const FIREWALL_LAN_PREFIX = "198.51.100";
export const DNS_V4 = `${PUBLIC_V4_PREFIX}.1`;
export const DNS_V6 = `${PUBLIC_V6_PREFIX}1`;

/** Public nodes: pub1 dual-stack (started on its IPv4 address with --also its IPv6 one), pub2 IPv4, v6 IPv6-only. */
const PUBLIC_NODES: LabHost[] = [
  { name: "pub1", router: null, ipv4: `${PUBLIC_V4_PREFIX}.2`, ipv6: `${PUBLIC_V6_PREFIX}2` },
  { name: "pub2", router: null, ipv4: `${PUBLIC_V4_PREFIX}.3`, ipv6: null },
  { name: "v6", router: null, ipv4: null, ipv6: `${PUBLIC_V6_PREFIX}4` },
];

const ROUTER_ORDER: readonly RouterKind[] = ["masquerade", "symmetric", "firewall", "upnp"];

export interface PlanOptions {
  /** Which routers, by kind (each once); the full lab has all four. */
  routers: readonly RouterKind[];
  /** Which public nodes by name (pub1, pub2, v6). */
  publicNodes: readonly string[];
  /** Nodes behind each router. */
  hostsPerRouter: number;
}

export const FULL_LAB: PlanOptions = { routers: ROUTER_ORDER, publicNodes: ["pub1", "pub2", "v6"], hostsPerRouter: 2 };

export function labPlan(options: PlanOptions): LabPlan {
  const routers = ROUTER_ORDER.filter((kind) => options.routers.includes(kind)).map((kind): LabRouter => {
    const index = ROUTER_ORDER.indexOf(kind);
    const name = "abcd"[index]!;
    return { name, kind, wan4: `${PUBLIC_V4_PREFIX}.${11 + index}`, lanPrefix: kind === "firewall" ? FIREWALL_LAN_PREFIX : `10.0.${index + 1}` };
  });
  const hosts: LabHost[] = [{ name: "dns", router: null, ipv4: DNS_V4, ipv6: DNS_V6 }];
  hosts.push(...PUBLIC_NODES.filter((host) => options.publicNodes.includes(host.name)));
  for (const router of routers) {
    for (let k = 1; k <= options.hostsPerRouter; k++) hosts.push({ name: `${router.name}${k}`, router: router.name, ipv4: `${router.lanPrefix}.${k + 1}`, ipv6: null });
  }
  return { routers, hosts };
}

/** The address a node is started on: its IPv4 address, or its IPv6 one when it has no other. */
export function nodeIp(host: LabHost): string {
  return host.ipv4 ?? host.ipv6!;
}

/** How the matrix names where a host sits: "public", "A: masquerade", ... */
export function placeOf(plan: LabPlan, host: LabHost): string {
  const router = plan.routers.find((candidate) => candidate.name === host.router);
  return router ? `${router.name.toUpperCase()}: ${router.kind}` : host.ipv4 ? "public" : "public, IPv6 only";
}
