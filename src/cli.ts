#!/usr/bin/env bun
// Entry point of the one `p2p` binary: parses the sub-command and hands over; each command loads lazily.

import { defineCommand, runMain } from "citty";
import { VERSION } from "./version";

const main = defineCommand({
  meta: {
    name: "p2p",
    version: VERSION,
    description: "Peer-to-peer file sharing over a Chord ring. Run `p2p <command> --help` for details.",
  },
  subCommands: {
    dns: () => import("./cli/dns").then((module) => module.default),
    node: () => import("./cli/node").then((module) => module.default),
    client: () => import("./cli/client").then((module) => module.default),
  },
});

runMain(main);
