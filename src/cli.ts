#!/usr/bin/env bun
// Entry point of the one `p2p` binary: parses the whole command line strictly (src/cli/argv.ts) and runs one command; each loads lazily.

import { defineCommand, renderUsage } from "citty";
import { VERSION } from "./version";
import { parseLine, type AnyCommand } from "./cli/argv";
import { exitInterrupted, failAndExit } from "./cli/common";

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
    version: defineCommand({
      meta: { name: "version", description: "Print the version" },
      args: { json: { type: "boolean", description: "Print {\"version\": ...} instead of text", default: false } },
      run: ({ args }) => printVersion(args.json),
    }),
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
    printVersion(json);
  } else if (line.help || (!command.run && line.path.length === 1)) {
    // citty names only the direct parent in the usage line: give it the whole chain ("p2p client download").
    const parent = line.names.length > 0 ? { meta: { name: ["p2p", ...line.names.slice(0, -1)].join(" ") } } : undefined;
    process.stdout.write(`${plain(await renderUsage(command, parent))}\n`);
  } else if (line.names[0] === "client") {
    // Ctrl-C during a client command or the menu's download (a hash, a download): the node keeps what it has;
    // we end the progress line and say what stopped. (The menu's prompts read Ctrl-C as a key themselves.)
    process.on("SIGINT", exitInterrupted);
    await command.run!({ args: line.args as never, rawArgs: argv, cmd: command as AnyCommand, data: undefined });
  } else {
    await command.run!({ args: line.args as never, rawArgs: argv, cmd: command as AnyCommand, data: undefined });
  }
} catch (error) {
  failAndExit(error, json);
}

function printVersion(asJson: boolean): void {
  process.stdout.write(asJson ? `${JSON.stringify({ version: VERSION })}\n` : `${VERSION}\n`);
}

/** Help without colours off a terminal or under NO_COLOR. */
function plain(text: string): string {
  const colour = process.stdout.isTTY && !process.env.NO_COLOR;
  // eslint-disable-next-line no-control-regex
  const trimmed = text.replace(/[ \t]+$/gm, "");
  return colour ? trimmed : trimmed.replace(/\x1b\[[0-9;]*m/g, "");
}
