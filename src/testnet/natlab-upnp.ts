// Router D's port mappers: the lab's gateway (lab-gateway.ts) run in D's namespace, NAT-PMP for the hosts named and UPnP IGD for every host, over one table of mappings made real with iptables.
// The lab's own, because Debian's miniupnpd (2.3.1) refuses every mapping behind a reserved WAN address, and 203.0.113.0/24 is one (docs/NAT.md, Router D).

import type { Subprocess } from "bun";
import { join } from "node:path";
import { hasExited } from "./processes";
import { captureTail } from "./natlab-nodes";
import { namespaceOf } from "./natlab-netns";
import type { LabPlan, LabRouter } from "./natlab-plan";

/** The gateway's start-up lines must come within this. */
const GATEWAY_TIMEOUT_MS = 10_000;

export interface UpnpRouter {
  /** One line for the report: the mappings the gateway made so far, and by which protocol. */
  describe(): string;
  stop(): Promise<void>;
}

/**
 * The hosts behind `router` that its NAT-PMP answers: every one but the first, so that in the small lab (one host
 * behind D) the node maps its port by UPnP IGD after a NAT-PMP refusal, and in the full lab each protocol maps one.
 */
export function natPmpHosts(plan: LabPlan, router: LabRouter): string[] {
  return plan.hosts.filter((host) => host.router === router.name && host.ipv4 !== null).slice(1).map((host) => host.ipv4!);
}

/** Starts the gateway in the router's namespace and waits until both protocols listen. */
export async function startUpnp(runId: string, router: LabRouter, natPmpFor: readonly string[], onSpawn?: (proc: Subprocess) => void): Promise<UpnpRouter> {
  const script = join(import.meta.dir, "lab-gateway.ts");
  const args = ["--wan", router.wan4, "--lan", router.lanPrefix, "--natpmp-hosts", natPmpFor.join(",")];
  const proc = Bun.spawn(["ip", "netns", "exec", namespaceOf(runId, `r${router.name}`), process.execPath, script, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  onSpawn?.(proc);
  const out = captureTail(proc.stdout as ReadableStream<Uint8Array>);
  const err = captureTail(proc.stderr as ReadableStream<Uint8Array>);
  const deadline = Date.now() + GATEWAY_TIMEOUT_MS;
  for (let round = 0; round < 200 && Date.now() < deadline && !hasExited(proc) && !/UPnP IGD on/.test(out()); round++) await Bun.sleep(50);
  const label = `${router.name.toUpperCase()} (${router.wan4})`;
  return {
    describe() {
      if (hasExited(proc)) return `${label}: the lab's gateway exited: ${lastLine(err() || out())}`;
      const mapped = out().split("\n").filter((line) => line.startsWith("mapped "));
      return `${label}: the lab's gateway (NAT-PMP for ${natPmpFor.join(", ") || "no host"}, UPnP IGD for all): ${mapped.length > 0 ? mapped.join(", ") : "no mapping asked for"}`;
    },
    async stop() {
      if (!hasExited(proc)) proc.kill("SIGKILL");
      await Promise.race([proc.exited, Bun.sleep(GATEWAY_TIMEOUT_MS)]);
    },
  };
}

function lastLine(text: string): string {
  return (text.split("\n").map((line) => line.trim()).filter(Boolean).at(-1) ?? "no output").slice(0, 160);
}
