// `p2p client`: the user's commands, sent to the local node over its Unix socket.

import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "client", description: "Talk to the node running on this machine (over its Unix socket)" },
  subCommands: {
    list: () => import("./client/files").then((module) => module.list),
    search: () => import("./client/files").then((module) => module.search),
    upload: () => import("./client/files").then((module) => module.upload),
    download: () => import("./client/files").then((module) => module.download),
    status: () => import("./client/status").then((module) => module.default),
    leave: () => import("./client/leave").then((module) => module.default),
  },
});
