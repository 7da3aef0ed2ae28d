#!/usr/bin/env bun
// Entry point of the one `p2p` binary: parses the whole command line strictly (src/cli/argv.ts) and runs one command; each loads lazily.

import { defineCommand, renderUsage } from "citty";
import { VERSION } from "./version";
import { parseLine, type AnyCommand } from "./cli/argv";
import { failAndExit } from "./cli/common";
import { EXIT } from "./cli/exit-codes";

const main = defineCommand({
  meta: {
    name: "p2p",
    version: VERSION,
    description: "Peer-to-peer file sharing over a Chord ring",
  },
  subCommands: {
    dns: () => import("./cli/dns").then((module) => module.default),
    node: () => import("./cli/node").then((module) => module.default),
    client: () => import("./cli/client").then((module) => module.default),
    keygen: () => import("./cli/keygen").then((module) => module.default),
    completion: () => import("./cli/completion").then((module) => module.default),
    version: defineCommand({ meta: { name: "version", description: "Print the version" }, run: () => void process.stdout.write(`${VERSION}\n`) }),
  },
});

const argv = process.argv.slice(2);
const json = argv.includes("--json");
// Whatever escapes a command is still one line, never a stack trace.
process.on("uncaughtException", (error) => failAndExit(error, json));
process.on("unhandledRejection", (error) => failAndExit(error, json));

try {
  const line = await parseLine(main, argv);
  const command = line.path[line.path.length - 1]!;
  if (line.version) {
    process.stdout.write(`${VERSION}\n`);
  } else if (line.help || (!command.run && line.path.length === 1)) {
    // citty names only the direct parent in the usage line: give it the whole chain ("p2p client download").
    const parent = line.names.length > 0 ? { meta: { name: ["p2p", ...line.names.slice(0, -1)].join(" ") } } : undefined;
    process.stdout.write(`${plain(await renderUsage(command, parent))}\n`);
  } else if (line.names[0] === "client" && line.path.length > 2) {
    // Ctrl-C during a client command (a download, a hash): the node keeps what it has; we report the interruption.
    process.on("SIGINT", () => process.exit(EXIT.INTERRUPTED));
    await command.run!({ args: line.args as never, rawArgs: argv, cmd: command as AnyCommand, data: undefined });
  } else {
    await command.run!({ args: line.args as never, rawArgs: argv, cmd: command as AnyCommand, data: undefined });
  }
} catch (error) {
  failAndExit(error, json);
}

/** Help without colours off a terminal or under NO_COLOR. */
function plain(text: string): string {
  const colour = process.stdout.isTTY && !process.env.NO_COLOR;
  // eslint-disable-next-line no-control-regex
  const trimmed = text.replace(/[ \t]+$/gm, "");
  return colour ? trimmed : trimmed.replace(/\x1b\[[0-9;]*m/g, "");
}
