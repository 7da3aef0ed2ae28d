// `p2p node <ip>`: the daemon (arrives with the ring).

import { defineCommand } from "citty";
import { P2PError } from "../protocol/errors";
import { logArgs, runCommand } from "./common";

export default defineCommand({
  meta: { name: "node", description: "Run a peer daemon on this machine's address <ip>" },
  args: {
    ip: { type: "positional", description: "This machine's address, e.g. 127.0.0.2", required: true },
    ...logArgs,
  },
  run: ({ args }) =>
    runCommand(args, async () => {
      throw new P2PError("UNAVAILABLE", "p2p node is not built yet in this version");
    }),
});
