// The interactive menu (`p2p client` on a terminal): pick a node if several run, then list, share, download from a pick list, and the rest.

import { consola } from "consola";
import { createInterface } from "node:readline/promises";
import { P2PError } from "../../protocol/errors";
import { oneLine } from "../common";
import { CONTROL } from "../../wire/control";
import { EXIT } from "../exit-codes";
import { liveNodes } from "../find-node";
import { describeDownload, describeShared, downloadFile, listFiles, searchFiles, shareFile } from "./files";
import { formatBytes, renderFiles } from "./render";
import { renderStatus } from "./status";
import { askNodeOp } from "./session";
import { renderShared, renderTransfers } from "./transfers";

/** The menu stops after this many actions, so a stuck terminal cannot loop forever. */
const MAX_ACTIONS = 10_000;
/** Files offered in the download pick list; more than this: search first. */
const MAX_PICK = 200;

type Target = { node?: string; socket?: string };

export async function runMenu(given: Target): Promise<void> {
  const target = await chooseNode(given);
  // No node running (or one that does not answer): say so now, not after every action fails.
  await askNodeOp(target, CONTROL.PING, undefined);
  for (let action = 0; action < MAX_ACTIONS; action++) {
    const choice = await select("What do you want to do?", [
      { value: "list", label: "list", hint: "every file in the network" },
      { value: "share", label: "share", hint: "share a file from this machine" },
      { value: "download", label: "download", hint: "pick a file to download" },
      { value: "search", label: "search", hint: "find files by a word" },
      { value: "transfers", label: "transfers", hint: "downloads under way and what is served" },
      { value: "shared", label: "shared", hint: "what this node shares" },
      { value: "status", label: "status", hint: "this node's place in the ring" },
      { value: "leave", label: "leave", hint: "make this node leave the ring and stop" },
      { value: "quit", label: "quit" },
    ]);
    if (choice === "quit") return;
    try {
      if ((await perform(target, choice)) === "stop") return;
    } catch (error) {
      if (!(error instanceof P2PError)) throw error;
      // The same one line as a failed command prints, and the menu goes on.
      process.stderr.write(`error: ${oneLine(error)}\n`);
    }
  }
}

/** With no --node/--socket and several nodes running, ask which one first. */
async function chooseNode(given: Target): Promise<Target> {
  if (given.node || given.socket) return given;
  const nodes = (await liveNodes()).sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  if (nodes.length < 2) return given;
  const picked = await select(`${nodes.length} nodes run here; which one?`, nodes.map((node) => ({ value: node.name, label: node.name })));
  return { socket: nodes.find((node) => node.name === picked)!.path };
}

async function perform(target: Target, choice: string): Promise<"stop" | void> {
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
      const files = await listFiles(target);
      if (files.length === 0) {
        process.stdout.write("no files in the network yet\n");
        return;
      }
      const sameName = (name: string) => files.filter((file) => file.name === name).length > 1;
      const options = files.slice(0, MAX_PICK).map((file) => {
        // A name several files share is picked as name@id: the download then knows which one.
        const ref = sameName(file.name) ? `${file.name}@${file.id.slice(0, 12)}` : file.name;
        return { value: ref, label: ref, hint: `${formatBytes(file.size)}, ${file.holders} ${file.holders === 1 ? "holder" : "holders"}` };
      });
      const ref = await select("Which file?", [...options, { value: "", label: "(back)" }], "back");
      if (!ref) return;
      const out = await ask("Save as (empty: ./<name>, or a folder to save inside):");
      if (out === null) return;
      process.stdout.write(describeDownload(await downloadFile(target, ref, out || undefined, false, true)));
      return;
    }
    case "transfers":
      process.stdout.write(renderTransfers(await askNodeOp(target, CONTROL.TRANSFERS, undefined)));
      return;
    case "shared":
      process.stdout.write(renderShared(await askNodeOp(target, CONTROL.SHARED, undefined)));
      return;
    case "status":
      process.stdout.write(renderStatus(await askNodeOp(target, CONTROL.STATUS, undefined)));
      return;
    case "leave": {
      const sure = await select("Make this node leave the ring and stop?", [
        { value: "no", label: "no" },
        { value: "yes", label: "yes, leave" },
      ], "back");
      if (sure !== "yes") return;
      process.stdout.write(`${await askNodeOp(target, CONTROL.LEAVE, undefined, { timeoutMs: 60_000 })}\n`);
      return "stop";
    }
  }
}

/**
 * A pick list. Escape or Ctrl-C at the menu itself ends the program with 130, as an interrupted command does;
 * in a question of an action (`onCancel: "back"`) they go back to the menu.
 */
async function select(message: string, options: { value: string; label: string; hint?: string }[], onCancel: "exit" | "back" = "exit"): Promise<string> {
  const choice = await consola.prompt(message, { type: "select", options, cancel: "symbol" });
  if (typeof choice === "string") return choice;
  if (onCancel === "back") return "";
  process.exit(EXIT.INTERRUPTED);
}

// consola's text prompt returns undefined under Bun (its select prompt works), so text is read with readline.
/** A line of text; null (back to the menu) on Escape or Ctrl-D; Ctrl-C ends the program with 130. */
async function ask(message: string): Promise<string | null> {
  const reader = createInterface({ input: process.stdin, output: process.stdout });
  reader.on("SIGINT", () => process.exit(EXIT.INTERRUPTED));
  const escape = new AbortController();
  const onKey = (_text: string | undefined, key: { name?: string } | undefined) => {
    if (key?.name === "escape") escape.abort();
  };
  process.stdin.on("keypress", onKey);
  try {
    return (await reader.question(`${message} `, { signal: escape.signal })).trim();
  } catch {
    if (escape.signal.aborted) process.stdout.write("\n");
    return null;
  } finally {
    process.stdin.off("keypress", onKey);
    reader.close();
  }
}
