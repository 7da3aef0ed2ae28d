// `p2p client`: the user's commands, sent to the local node over its Unix socket; no command opens the menu.

import { defineCommand } from "citty";
import { P2PError } from "../protocol/errors";
import { logArgs, runCommand } from "./common";
import { targetArgs } from "./find-node";

const COMMANDS = ["list", "search", "upload", "download", "status", "leave"];

export default defineCommand({
  meta: {
    name: "client",
    description: "Talk to the node running on this machine (over its Unix socket). With no command, on a terminal: an interactive menu",
  },
  args: { ...targetArgs, ...logArgs },
  subCommands: {
    list: () => import("./client/files").then((module) => module.list),
    search: () => import("./client/files").then((module) => module.search),
    upload: () => import("./client/files").then((module) => module.upload),
    download: () => import("./client/files").then((module) => module.download),
    status: () => import("./client/status").then((module) => module.default),
    leave: () => import("./client/leave").then((module) => module.default),
  },
  run: ({ args, rawArgs }) => {
    // citty runs this after a sub-command too: only a bare `p2p client` is ours.
    if (rawArgs.some((arg) => COMMANDS.includes(arg))) return;
    return runCommand(args, async () => {
      if (!process.stdin.isTTY || !process.stdout.isTTY) {
        throw new P2PError("MALFORMED", `p2p client needs a command (${COMMANDS.join(", ")}); the interactive menu needs a terminal`);
      }
      const { runMenu } = await import("./client/menu");
      await runMenu(args);
    });
  },
});
