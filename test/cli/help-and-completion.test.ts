// The real binary's help and completion: every option described and offered by bash completion, the usage lines
// saying what a command takes, and the list of running nodes in the order of their addresses.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { CLIENT_COMMANDS } from "../../src/cli/client";
import { EXIT } from "../../src/cli/exit-codes";
import { CONTROL } from "../../src/wire/control";
import { DNS } from "../../src/wire/dns";
import { FILES } from "../../src/wire/files";
import { RING } from "../../src/wire/ring";
import { builtBinary } from "../helpers/binary";
import { runP2P, stopAllProcesses } from "../helpers/processes";
import { tempDir } from "../helpers/wait";

const dir = tempDir();
afterEach(stopAllProcesses);
afterAll(() => dir.remove());

async function p2p(args: string[], env: Record<string, string> = {}) {
  return runP2P(args, { executable: [await builtBinary()], env: { P2P_HOME: join(dir.path, "empty-home"), ...env } });
}

/** `p2p <words> --help` once per command. */
const helps = new Map<string, Promise<string>>();
function helpOf(words: string[]): Promise<string> {
  const key = words.join(" ");
  if (!helps.has(key)) helps.set(key, p2p([...words, "--help"]).then((result) => (expect(result.code).toBe(0), result.stdout)));
  return helps.get(key)!;
}

const OP_NAMES = [CONTROL, DNS, FILES, RING].flatMap((ops) => Object.values(ops).map((op) => op.name));

const COMMANDS = [["dns"], ["node"], ["keygen"], ["completion"], ["client"], ...CLIENT_COMMANDS.map((name) => ["client", name])];

/** The rows of one section (OPTIONS, ARGUMENTS) of a help text: each row's name column and its description. */
function section(help: string, title: string): { name: string; description: string }[] {
  const lines = help.split("\n");
  const start = lines.indexOf(title);
  if (start === -1) return [];
  const rows = [];
  for (const line of lines.slice(start + 1)) {
    if (/^[A-Z]+$/.test(line)) break;
    if (line.trim() === "") continue;
    const [, name, description] = /^\s*(\S+)(?:\s{2,}(.*))?$/.exec(line)!;
    rows.push({ name: name!, description: description ?? "" });
  }
  return rows;
}

describe("help and completion", () => {
  test("every option and argument of every command's --help has a description", async () => {
    const undescribed: string[] = [];
    for (const words of COMMANDS) {
      const help = await helpOf(words);
      for (const row of [...section(help, "OPTIONS"), ...section(help, "ARGUMENTS")]) {
        if (row.description.trim() === "") undescribed.push(`p2p ${words.join(" ")}: ${row.name}`);
      }
    }
    expect(undescribed).toEqual([]);
  }, 120_000);

  test("no help names an internal detail: a .part file, a snake_case placeholder or a wire op", async () => {
    expect(OP_NAMES).toContain("GET_CHUNK");
    const leaks: string[] = [];
    for (const words of [[], ...COMMANDS]) {
      const help = await helpOf(words);
      const found = [
        ...(help.match(/\.part\b/g) ?? []),
        ...(help.match(/<\w+_\w+>/g) ?? []),
        ...OP_NAMES.filter((name) => new RegExp(`\\b${name}\\b`).test(help)),
      ];
      leaks.push(...found.map((leak) => `p2p ${words.join(" ")} --help: ${leak}`));
    }
    expect(leaks).toEqual([]);
  }, 120_000);

  test("search's usage says it takes words, and several unquoted words are one search", async () => {
    const help = await helpOf(["client", "search"]);
    expect(help).toContain("USAGE p2p client search [OPTIONS] <WORDS>");
    expect(section(help, "ARGUMENTS")).toEqual([{ name: "WORDS", description: expect.stringMatching(/^One or more words/) }]);
    // No node runs: the command line is accepted and the failure is about the node, not the words.
    const search = await p2p(["client", "search", "holiday", "photos"]);
    expect(search.code).toBe(EXIT.NOT_FOUND);
    expect(search.stderr).toContain("no running node found");
  }, 120_000);

  test("bash completion offers every option each command's --help lists, --no-share and keygen's included", async () => {
    const script = join(dir.path, "p2p.bash");
    await Bun.write(script, (await p2p(["completion", "bash"])).stdout);
    const missing: string[] = [];
    let offeredCount = 0;
    for (const words of COMMANDS.filter(([first]) => first !== "completion")) {
      const options = section(await helpOf(words), "OPTIONS").map((row) => row.name.replace(/=.*$/, ""));
      const line = ["p2p", ...words, "--"];
      const shell = Bun.spawn(["bash", "-c", `source ${script}; COMP_WORDS=(${line.join(" ")}); COMP_CWORD=${line.length - 1}; _p2p; echo "\${COMPREPLY[@]}"`], {
        env: { PATH: "/usr/bin:/bin", P2P_HOME: join(dir.path, "empty-home") },
        stdout: "pipe",
      });
      const offered = (await new Response(shell.stdout).text()).trim().split(" ");
      expect(await shell.exited).toBe(0);
      offeredCount += offered.length;
      missing.push(...options.filter((option) => !offered.includes(option)).map((option) => `p2p ${words.join(" ")} ${option}`));
    }
    expect(missing).toEqual([]);
    expect(offeredCount).toBeGreaterThan(30);
  }, 120_000);

  test("several running nodes are named in the order of their addresses", async () => {
    const home = join(dir.path, "several");
    const addresses = ["127.0.0.10", "127.0.0.9", "127.0.0.100", "127.0.0.2", "127.0.0.21", "127.0.0.3"];
    // Something answering on each node.sock is all `p2p client` looks for before it has to choose.
    const listeners = addresses.map((address) => {
      mkdirSync(join(home, address), { recursive: true });
      return Bun.listen({ unix: join(home, address, "node.sock"), socket: { data() {} } });
    });
    try {
      const status = await p2p(["client", "status"], { P2P_HOME: home });
      expect(status.code).toBe(EXIT.AMBIGUOUS);
      expect(status.stderr.trim()).toBe(
        `error: 6 nodes run under ${home}: 127.0.0.2, 127.0.0.3, 127.0.0.9, 127.0.0.10, 127.0.0.21, 127.0.0.100; choose one with --node <ip>`,
      );
    } finally {
      for (const listener of listeners) listener.stop(true);
    }
  }, 120_000);
});
