// The port mappings one lab router holds, whichever protocol asked for them (NAT-PMP, UPnP IGD), each made real with iptables (DNAT, a forward rule, hairpin).

import { spawnSync } from "node:child_process";

/** External ports handed out when the one asked for is taken. */
export const FIRST_SPARE_PORT = 40_000;
/** Mappings one router holds at most (the lab has two hosts behind it). */
export const MAX_MAPPINGS = 64;

export type LabMapping = { client: string; internalPort: number; externalPort: number };

export interface LabRouterAddresses {
  wan: string;
  /** The LAN's first three octets: the router is `<lan>.1`, hosts `<lan>.0/24`. */
  lan: string;
}

export class LabPortMappings {
  private readonly mappings: LabMapping[] = [];

  /** `iptables` runs one command (tests record them instead); `log` hears each mapping made and removed. */
  constructor(
    private readonly router: LabRouterAddresses,
    private readonly iptables: (args: string[]) => void = runIptables,
    private readonly log: (line: string) => void = (line) => console.log(line),
  ) {}

  /** The mapping `client:internalPort` already has, if any. */
  find(client: string, internalPort: number): LabMapping | undefined {
    return this.mappings.find((held) => held.client === client && held.internalPort === internalPort);
  }

  /** Who holds external port `port`, if anyone. */
  holderOf(port: number): LabMapping | undefined {
    return this.mappings.find((held) => held.externalPort === port);
  }

  /**
   * Maps `wished` (0: any) to `client:internalPort`, or, when it is taken and `exact` is not asked for, the first
   * free port from FIRST_SPARE_PORT; the log names the protocol it came `by`. Null when the table is full, or the
   * port is taken and `exact`.
   */
  add(client: string, internalPort: number, wished: number, exact = false, by = "NAT-PMP"): LabMapping | null {
    if (this.mappings.length >= MAX_MAPPINGS) return null;
    const taken = (port: number) => this.holderOf(port) !== undefined;
    if (exact && taken(wished)) return null;
    let externalPort = wished > 0 && !taken(wished) ? wished : FIRST_SPARE_PORT;
    while (taken(externalPort)) externalPort++;
    const mapping = { client, internalPort, externalPort };
    for (const rule of this.rules(mapping)) this.iptables(["-t", rule.table, rule.chain === "FORWARD" ? "-I" : "-A", rule.chain, ...rule.spec]);
    this.mappings.push(mapping);
    this.log(`mapped ${this.router.wan}:${externalPort} to ${client}:${internalPort} (${by})`);
    return mapping;
  }

  remove(mapping: LabMapping): void {
    const index = this.mappings.indexOf(mapping);
    if (index < 0) return;
    this.mappings.splice(index, 1);
    for (const rule of this.rules(mapping)) this.iptables(["-t", rule.table, "-D", rule.chain, ...rule.spec]);
    this.log(`unmapped ${this.router.wan}:${mapping.externalPort}`);
  }

  /**
   * What makes one mapping real: inbound DNAT (from the WAN and, for hairpin, from the LAN), the forward the router's
   * policy would drop (inserted first, before its `-i wan -j DROP`), and the hairpin's source NAT.
   */
  private rules({ client, internalPort, externalPort }: LabMapping): { table: string; chain: string; spec: string[] }[] {
    const { wan, lan } = this.router;
    const port = String(internalPort);
    return [
      { table: "nat", chain: "PREROUTING", spec: ["-d", wan, "-p", "tcp", "--dport", String(externalPort), "-j", "DNAT", "--to-destination", `${client}:${port}`] },
      { table: "filter", chain: "FORWARD", spec: ["-d", client, "-p", "tcp", "--dport", port, "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"] },
      { table: "nat", chain: "POSTROUTING", spec: ["-s", `${lan}.0/24`, "-d", client, "-p", "tcp", "--dport", port, "-j", "MASQUERADE"] },
    ];
  }
}

function runIptables(args: string[]): void {
  const result = spawnSync("iptables", ["-w", "5", ...args], { encoding: "utf8", timeout: 10_000 });
  if (result.status !== 0) console.error(`iptables ${args.join(" ")}: ${result.stderr.trim()}`);
}
