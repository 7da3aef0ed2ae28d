// `p2p client leave`: the node hands its records over, leaves the ring and exits.

import { defineCommand } from "citty";
import { CONTROL } from "../../wire/control";
import { runCommand } from "../common";
import { clientArgs } from "../find-node";
import { askNodeOp } from "./session";

export default defineCommand({
  meta: { name: "leave", description: "Make the node leave the ring gracefully (records handed over) and exit" },
  args: clientArgs,
  run: ({ args }) =>
    runCommand(args, async () => {
      const reply = await askNodeOp(args, CONTROL.LEAVE, undefined, { timeoutMs: 60_000 });
      process.stdout.write(args.json ? `${JSON.stringify({ left: true, message: reply })}\n` : `${reply}\n`);
    }),
});
