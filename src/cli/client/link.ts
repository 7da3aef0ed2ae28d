// `p2p client link|pause|resume`: a link to paste to another node, and steering a transfer that runs in the node.

import { defineCommand } from "citty";
import { TRANSFER_CONTROL } from "../../wire/control-transfers";
import { runCommand } from "../common";
import { clientArgs } from "../find-node";
import { formatBytes } from "./render";
import { askNodeOp } from "./session";

const print = (json: boolean, value: unknown, text: string) => process.stdout.write(json ? `${JSON.stringify(value)}\n` : text);
const transfer = { type: "positional", description: "The transfer: its name, or the start of its id (4+ hex digits)", required: true } as const;

export const link = defineCommand({
  meta: {
    name: "link",
    description: "Print a link to a file or folder (id, name, size, a few holders, the DNS) that `p2p client download <link>` on another node fetches with no search",
  },
  args: { name: { type: "positional", description: "The file's or folder's name, or name@id to pick one of several of that name", required: true }, ...clientArgs },
  run: ({ args }) =>
    runCommand(args, async () => {
      const report = await askNodeOp(args, TRANSFER_CONTROL.LINK, args.name);
      if (report.via.length === 0) process.stderr.write(`note: no holder of ${report.name} is announced right now; the link works once one is\n`);
      print(args.json, report, `${report.link}\n`);
    }),
});

export const pause = defineCommand({
  meta: { name: "pause", description: "Pause a download: it stops fetching and gives its turn to the next queued one; its verified chunks stay" },
  args: { transfer, ...clientArgs },
  run: ({ args }) =>
    runCommand(args, async () => {
      const entry = await askNodeOp(args, TRANSFER_CONTROL.PAUSE, args.transfer);
      print(args.json, entry, `paused ${entry.name} at ${formatBytes(entry.bytes)} of ${formatBytes(entry.size)}; resume it with: p2p client resume ${entry.id.slice(0, 12)}\n`);
    }),
});

export const resume = defineCommand({
  meta: { name: "resume", description: "Resume a paused download from its verified chunks (it queues if --max-active downloads run)" },
  args: { transfer, ...clientArgs },
  run: ({ args }) =>
    runCommand(args, async () => {
      const entry = await askNodeOp(args, TRANSFER_CONTROL.RESUME, args.transfer);
      print(args.json, entry, `resumed ${entry.name} (${formatBytes(entry.bytes)} of ${formatBytes(entry.size)} kept); see: p2p client transfers\n`);
    }),
});
