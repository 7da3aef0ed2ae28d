// `p2p client leave`: the node hands its records over, leaves the ring and exits.

import { defineCommand } from "citty";
import { decodeLines } from "../../protocol/frame";
import { logArgs, runCommand } from "../common";
import { targetArgs } from "../find-node";
import { askNode } from "./session";

export default defineCommand({
  meta: { name: "leave", description: "Make the node leave the ring gracefully (records handed over) and exit" },
  args: { ...targetArgs, ...logArgs },
  run: ({ args }) =>
    runCommand(args, async () => {
      const reply = await askNode(args, "LEAVE", [], 60_000);
      process.stdout.write(`${decodeLines(reply).join("\n")}\n`);
    }),
});
