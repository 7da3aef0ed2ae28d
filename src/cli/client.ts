// `p2p client`: the user's commands, sent to the local node over its Unix socket.

import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "client", description: "Talk to the node running on this machine (over its Unix socket)" },
  subCommands: {
    status: () => import("./client/status").then((module) => module.default),
    leave: () => import("./client/leave").then((module) => module.default),
  },
});
