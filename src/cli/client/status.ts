// `p2p client status`: this node's place in the ring.

import { defineCommand } from "citty";
import { CONTROL, type NodeStatus } from "../../wire/control";
import { runCommand } from "../common";
import { clientArgs } from "../find-node";
import { askNodeOp } from "./session";

export default defineCommand({
  meta: { name: "status", description: "Show this node's id, address, predecessor, successors, fingers and records" },
  args: clientArgs,
  run: ({ args }) =>
    runCommand(args, async () => {
      const status = await askNodeOp(args, CONTROL.STATUS, undefined);
      process.stdout.write(args.json ? `${JSON.stringify(status)}\n` : renderStatus(status));
    }),
});

export function renderStatus(status: NodeStatus): string {
  const peer = (entry: { id: string; address: string } | null) => (entry ? `${entry.id.slice(0, 12)}  ${entry.address}` : "(none)");
  const lines = [
    `node         ${peer(status)}`,
    `predecessor  ${peer(status.predecessor)}`,
    // An edge node (named `ip:port/<edge id>`) has no place on the ring, not an empty one.
    `successors   ${status.successors.length > 0 ? "" : status.address.includes("/") ? "(none: an edge node owns no range)" : "(alone in the ring)"}`,
    ...status.successors.map((entry, index) => `  ${index + 1}. ${peer(entry)}`),
    `fingers      ${status.fingers.length} distinct`,
    ...status.fingers.map((entry) => `  ${peer(entry)}`),
    `records      ${status.records.primary} primary, ${status.records.replica} replica`,
    ...(status.maintenanceMs === undefined ? [] : [`upkeep       ${renderUpkeep(status.maintenanceMs, status.lastChange)}`]),
    `clock        ${renderClock(status)}`,
    `dns          ${status.dns}`,
    ...(status.reachability ? [`reach        ${status.reachability}`] : []),
    `network      ${status.privateNetwork ? "private (--key): links to peers and the DNS are encrypted" : "open"}`,
    `data         ${status.dataDir}`,
    `uptime       ${status.uptimeSeconds} s`,
  ];
  return `${lines.join("\n")}\n`;
}

/** The clock line: in step, or how far ahead or behind the peers' median, and what to do past the network's tolerance. */
export function renderClock(status: Pick<NodeStatus, "clockSkewMs" | "clockPeers" | "clockToleranceMs">): string {
  const skew = status.clockSkewMs;
  if (skew === undefined || skew === null) return "not compared yet (no peer has told its time)";
  const peers = status.clockPeers === 1 ? "its one peer that answered" : `its peers (median of ${status.clockPeers ?? 0})`;
  const tolerance = status.clockToleranceMs ?? 60_000;
  const side = `${seconds(skew)} ${skew >= 0 ? "ahead of" : "behind"} ${peers}`;
  if (Math.abs(skew) <= tolerance) return `in step: ${side}`;
  return `OFF: this node's clock is ${side}; fix the clock (NTP): the network tolerates ${seconds(tolerance)}, and until then its announcements are refused or expire early`;
}

/** How often the node looks after its place in the ring now, and the last change that made it look more often. */
function renderUpkeep(periodMs: number, lastChange: NodeStatus["lastChange"]): string {
  const period = `a round every ${seconds(periodMs)}`;
  return lastChange ? `${period}; last change ${seconds(lastChange.agoMs)} ago: ${lastChange.reason}` : period;
}

function seconds(ms: number): string {
  const abs = Math.abs(ms);
  if (abs >= 90_000) return `${Math.round(abs / 60_000)} min`;
  if (abs >= 10_000) return `${Math.round(abs / 1000)} s`;
  return `${(abs / 1000).toFixed(1)} s`;
}
