// `p2p client`: the user's commands, sent to the local node over its Unix socket; no command opens the menu.

import { defineCommand } from "citty";
import { P2PError } from "../protocol/errors";
import { runCommand } from "./common";
import { clientArgs } from "./find-node";

export const CLIENT_COMMANDS = ["list", "search", "upload", "download", "link", "transfers", "pause", "resume", "cancel", "shared", "unshare", "status", "leave", "web"];

export default defineCommand({
  meta: {
    name: "client",
    description: "Talk to the node running on this machine (over its Unix socket). With no command, on a terminal: an interactive menu",
  },
  args: clientArgs,
  subCommands: {
    list: () => import("./client/files").then((module) => module.list),
    search: () => import("./client/files").then((module) => module.search),
    upload: () => import("./client/files").then((module) => module.upload),
    download: () => import("./client/files").then((module) => module.download),
    link: () => import("./client/link").then((module) => module.link),
    transfers: () => import("./client/transfers").then((module) => module.transfers),
    pause: () => import("./client/link").then((module) => module.pause),
    resume: () => import("./client/link").then((module) => module.resume),
    cancel: () => import("./client/transfers").then((module) => module.cancel),
    shared: () => import("./client/transfers").then((module) => module.shared),
    unshare: () => import("./client/transfers").then((module) => module.unshare),
    status: () => import("./client/status").then((module) => module.default),
    leave: () => import("./client/leave").then((module) => module.default),
    web: () => import("./client/web").then((module) => module.default),
  },
  // Only a bare `p2p client` runs this (src/cli.ts runs the sub-command alone).
  run: ({ args }) =>
    runCommand(args, async () => {
      if (!process.stdin.isTTY || !process.stdout.isTTY) {
        throw new P2PError("MALFORMED", `p2p client needs a command (${CLIENT_COMMANDS.join(", ")}); the interactive menu needs a terminal (see: p2p client --help)`);
      }
      const { runMenu } = await import("./client/menu");
      await runMenu(args);
    }),
});
