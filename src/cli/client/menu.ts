// The interactive menu of the original client (list, share, download, search, quit), built on the same actions.

import { consola } from "consola";
import { createInterface } from "node:readline/promises";
import { P2PError } from "../../protocol/errors";
import { log } from "../../log";
import { describeDownload, describeShared, downloadFile, listFiles, searchFiles, shareFile } from "./files";
import { renderFiles } from "./render";
import { renderStatus } from "./status";
import { askNodeOp } from "./session";
import { CONTROL } from "../../wire/control";

/** The menu stops after this many actions, so a stuck terminal cannot loop forever. */
const MAX_ACTIONS = 10_000;

type Target = { node?: string; socket?: string };

export async function runMenu(target: Target): Promise<void> {
  for (let action = 0; action < MAX_ACTIONS; action++) {
    const choice = await consola.prompt("What do you want to do?", {
      type: "select",
      options: [
        { value: "list", label: "list", hint: "every file in the network" },
        { value: "share", label: "share", hint: "share a file from this machine" },
        { value: "download", label: "download", hint: "download a file by name" },
        { value: "search", label: "search", hint: "find files by a word" },
        { value: "status", label: "status", hint: "this node's place in the ring" },
        { value: "quit", label: "quit" },
      ],
      cancel: "symbol",
    });
    if (typeof choice !== "string" || choice === "quit") return;
    try {
      await perform(target, choice);
    } catch (error) {
      if (!(error instanceof P2PError)) throw error;
      log.error(error.message);
    }
  }
}

async function perform(target: Target, choice: string): Promise<void> {
  switch (choice) {
    case "list":
      process.stdout.write(renderFiles(await listFiles(target)));
      return;
    case "search": {
      const term = await ask("Search for:");
      if (term) process.stdout.write(renderFiles(await searchFiles(target, term)));
      return;
    }
    case "share": {
      const path = await ask("Path of the file to share:");
      if (path) process.stdout.write(describeShared(await shareFile(target, path, undefined, true)));
      return;
    }
    case "download": {
      const name = await ask("Name of the file (name@id to pick one of several):");
      if (!name) return;
      const out = await ask("Save as (empty: ./<name>):");
      process.stdout.write(describeDownload(await downloadFile(target, name, out || undefined, false, true)));
      return;
    }
    case "status":
      process.stdout.write(renderStatus(await askNodeOp(target, CONTROL.STATUS, undefined)));
      return;
  }
}

// consola's text prompt returns undefined under Bun (its select prompt works), so text is read with readline.
async function ask(message: string): Promise<string | null> {
  const reader = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await reader.question(`${message} `)).trim();
  } catch {
    return null; // Ctrl-D or Ctrl-C
  } finally {
    reader.close();
  }
}
