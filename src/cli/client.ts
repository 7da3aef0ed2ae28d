// `p2p client`: the user's commands, sent to the local node over its Unix socket (arrives with the ring).

import { defineCommand } from "citty";
import { P2PError } from "../protocol/errors";
import { logArgs, runCommand } from "./common";

export default defineCommand({
  meta: { name: "client", description: "Talk to the node running on this machine" },
  args: { ...logArgs },
  run: ({ args }) =>
    runCommand(args, async () => {
      throw new P2PError("UNAVAILABLE", "p2p client is not built yet in this version");
    }),
});
