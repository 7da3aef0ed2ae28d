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
    `successors   ${status.successors.length === 0 ? "(alone in the ring)" : ""}`,
    ...status.successors.map((entry, index) => `  ${index + 1}. ${peer(entry)}`),
    `fingers      ${status.fingers.length} distinct`,
    ...status.fingers.map((entry) => `  ${peer(entry)}`),
    `records      ${status.records.primary} primary, ${status.records.replica} replica`,
    `dns          ${status.dns}`,
    `network      ${status.privateNetwork ? "private (--key): links to peers and the DNS are encrypted" : "open"}`,
    `data         ${status.dataDir}`,
    `uptime       ${status.uptimeSeconds} s`,
  ];
  return `${lines.join("\n")}\n`;
}
