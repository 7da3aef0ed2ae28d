// Builds the NAT lab's network namespaces (hosts, routers, an "internet" bridge) and removes them; nothing in the host's namespace.

import { P2PError } from "../protocol/errors";
import { isRunning } from "./pids";
import type { LabPlan, LabRouter } from "./natlab-plan";

/** Every namespace of a lab is named `p2pnl-<pid>_<seq>-<part>`: the pid of the process that made it finds stale runs. */
export const NAMESPACE_PREFIX = "p2pnl-";
/** One `ip`/`iptables` command may take this long; a stuck one is an error, not a hang. */
const COMMAND_TIMEOUT_MS = 10_000;
/** The most namespaces a cleanup removes in one call (a bound, far above any lab). */
const MAX_NAMESPACES = 1_000;

let runs = 0;

/** A new run id for this process: `<pid>_<seq>`. */
export function newRunId(): string {
  runs += 1;
  return `${process.pid}_${runs}`;
}

/** The namespace of one part (a host, a router, "inet") of the run. */
export function namespaceOf(runId: string, part: string): string {
  return `${NAMESPACE_PREFIX}${runId}-${part}`;
}

/** Runs one command; throws with its stderr when it fails. */
export function run(argv: string[]): string {
  const result = Bun.spawnSync(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: COMMAND_TIMEOUT_MS });
  if (result.exitCode !== 0) {
    const reason = result.stderr.toString().trim() || (result.signalCode ? `killed after ${COMMAND_TIMEOUT_MS} ms` : `exit ${result.exitCode}`);
    throw new P2PError("ERROR", `${argv.join(" ")} failed: ${reason}`);
  }
  return result.stdout.toString();
}

/** Why this machine cannot run the lab (not root, no `ip netns`, no iptables), or null when it can. */
export function labUnavailableReason(): string | null {
  if (process.platform !== "linux") return "the NAT lab needs Linux network namespaces";
  if (process.getuid?.() !== 0) return "the NAT lab needs root (network namespaces and iptables): run it with sudo";
  for (const tool of ["ip", "iptables"]) if (!Bun.which(tool)) return `the NAT lab needs ${tool} (apt-get install iproute2 iptables)`;
  try {
    run(["ip", "netns", "list"]);
  } catch (error) {
    return `ip netns does not work here: ${(error as Error).message}`;
  }
  return null;
}

/** The namespaces whose name starts with `prefix` (default: every lab's). */
export function labNamespaces(prefix = NAMESPACE_PREFIX): string[] {
  return run(["ip", "netns", "list"])
    .split("\n")
    .map((line) => line.split(" ")[0]!)
    .filter((name) => name.startsWith(prefix))
    .slice(0, MAX_NAMESPACES);
}

/** Deletes every namespace of the run; returns the ones that would not go (with why). */
export function destroyLab(runId: string): string[] {
  return deleteNamespaces(labNamespaces(`${NAMESPACE_PREFIX}${runId}-`));
}

/** Deletes every namespace this process made, whatever the run: the last resort when a start-up was cut short. */
export function destroyOwnRuns(): string[] {
  return deleteNamespaces(labNamespaces(`${NAMESPACE_PREFIX}${process.pid}_`));
}

function deleteNamespaces(namespaces: string[]): string[] {
  const left: string[] = [];
  for (const namespace of namespaces) {
    try {
      run(["ip", "netns", "del", namespace]);
    } catch (error) {
      left.push((error as Error).message);
    }
  }
  return left;
}

/**
 * Deletes the namespaces of earlier runs whose process is gone (a lab killed with SIGKILL), after killing by
 * pid the processes still running inside them (`ip netns del` alone would leave them, and the namespace, alive).
 * Returns the namespaces removed.
 */
export function removeStaleRuns(): string[] {
  const stale = labNamespaces().filter((namespace) => {
    const pid = Number(/^p2pnl-(\d+)_/.exec(namespace)?.[1] ?? Number.NaN);
    return Number.isInteger(pid) && pid !== process.pid && !isRunning(pid);
  });
  for (const namespace of stale) {
    for (const pid of run(["ip", "netns", "pids", namespace]).split("\n").filter(Boolean).map(Number)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Exited between the listing and the signal: what we wanted.
      }
    }
    run(["ip", "netns", "del", namespace]);
  }
  return stale;
}

/** Creates every namespace, link, address, route and firewall rule of `plan`; on failure deletes what it made and throws. */
export function createLab(runId: string, plan: LabPlan): void {
  const ns = (part: string) => namespaceOf(runId, part);
  try {
    run(["ip", "netns", "add", ns("inet")]);
    in_(ns("inet"), ["link", "add", "name", "bri0", "type", "bridge"]);
    in_(ns("inet"), ["link", "set", "bri0", "up"]);
    const publicSide = [...plan.hosts.filter((host) => host.router === null).map((host) => ({ part: host.name, ipv4: host.ipv4, ipv6: host.ipv6 })), ...plan.routers.map((router) => ({ part: `r${router.name}`, ipv4: router.wan4, ipv6: null }))];
    for (const side of publicSide) {
      run(["ip", "netns", "add", ns(side.part)]);
      in_(ns(side.part), ["link", "set", "lo", "up"]);
      in_(ns(side.part), ["link", "add", "wan", "type", "veth", "peer", "name", `p-${side.part}`, "netns", ns("inet")]);
      in_(ns("inet"), ["link", "set", `p-${side.part}`, "master", "bri0", "up"]);
      if (side.ipv4) in_(ns(side.part), ["addr", "add", `${side.ipv4}/24`, "dev", "wan"]);
      if (side.ipv6) in_(ns(side.part), ["addr", "add", `${side.ipv6}/64`, "dev", "wan", "nodad"]);
      in_(ns(side.part), ["link", "set", "wan", "up"]);
    }
    // A firewall-only router's LAN is routed, as an ISP would route it: every public-side namespace knows the way.
    for (const firewall of plan.routers.filter((router) => router.kind === "firewall")) {
      for (const side of publicSide) {
        if (side.part !== `r${firewall.name}` && side.ipv4) in_(ns(side.part), ["route", "add", `${firewall.lanPrefix}.0/24`, "via", firewall.wan4]);
      }
    }
    for (const router of plan.routers) createRouter(runId, router, plan);
  } catch (error) {
    destroyLab(runId);
    throw error;
  }
}

function in_(namespace: string, args: string[]): void {
  run(["ip", "-n", namespace, ...args]);
}

/** A router's LAN bridge, its hosts behind it, forwarding, and the rules of its kind. */
function createRouter(runId: string, router: LabRouter, plan: LabPlan): void {
  const rns = namespaceOf(runId, `r${router.name}`);
  in_(rns, ["link", "add", "name", "lan", "type", "bridge"]);
  in_(rns, ["addr", "add", `${router.lanPrefix}.1/24`, "dev", "lan"]);
  in_(rns, ["link", "set", "lan", "up"]);
  for (const host of plan.hosts.filter((candidate) => candidate.router === router.name)) {
    const hns = namespaceOf(runId, host.name);
    run(["ip", "netns", "add", hns]);
    in_(hns, ["link", "set", "lo", "up"]);
    in_(rns, ["link", "add", `h-${host.name}`, "type", "veth", "peer", "name", "eth0", "netns", hns]);
    in_(rns, ["link", "set", `h-${host.name}`, "master", "lan", "up"]);
    in_(hns, ["addr", "add", `${host.ipv4}/24`, "dev", "eth0"]);
    in_(hns, ["link", "set", "eth0", "up"]);
    in_(hns, ["route", "add", "default", "via", `${router.lanPrefix}.1`]);
  }
  run(["ip", "netns", "exec", rns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
  const iptables = (...args: string[]) => run(["ip", "netns", "exec", rns, "iptables", "-w", "5", ...args]);
  if (router.kind === "masquerade" || router.kind === "upnp") iptables("-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE");
  if (router.kind === "symmetric") iptables("-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE", "--random-fully");
  // Every router drops unsolicited inbound: NAT alone would forward a packet someone routed to a private address.
  iptables("-A", "FORWARD", "-i", "wan", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT");
  iptables("-A", "FORWARD", "-i", "wan", "-j", "DROP");
  // ...and to itself, as home routers do: silently, not with a reset. A reset to the early SYN of a hole punch
  // would close the mapping its own host just opened (docs/NAT.md, "Hole punching").
  if (router.resetsUnsolicited) return;
  iptables("-A", "INPUT", "-i", "wan", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT");
  iptables("-A", "INPUT", "-i", "wan", "-j", "DROP");
}
