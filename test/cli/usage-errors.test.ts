// Mistakes on the command line through the real binary: empty words, exit codes that agree across commands, version --json, the menu with no node.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/cli/exit-codes";
import { builtBinary } from "../helpers/binary";
import { runP2P } from "../helpers/processes";
import { onTerminal } from "../helpers/terminal";
import { tempDir } from "../helpers/wait";

const dir = tempDir();
const home = join(dir.path, "home");
let binary: string;

beforeAll(async () => {
  binary = await builtBinary();
  mkdirSync(home);
}, 120_000);
afterAll(() => dir.remove());

/** Runs the binary in the temporary folder with an empty P2P_HOME: no node runs there. */
const p2p = (args: string[]) => runP2P(args, { executable: [binary], env: { P2P_HOME: home }, timeoutMs: 15_000 });

describe("the command line", () => {
  test("an empty name, path, id or option value is a usage error for every command, before any node is asked", async () => {
    const cases: [string[], RegExp][] = [
      [["client", "upload", ""], /^error: <path> is empty: /],
      [["client", "download", ""], /^error: <name> is empty: /],
      [["client", "download", "x", ""], /^error: <path> is empty: /],
      [["client", "download", "x", "--out", ""], /^error: --out is empty: give it an? \S+/],
      [["client", "cancel", ""], /^error: <ref> is empty: /],
      [["client", "unshare", " "], /^error: <ref> is empty: /],
      [["client", "upload", "a.txt", "--name", ""], /^error: --name is empty: give it an? \S+/],
      [["client", "status", "--node", ""], /^error: --node is empty: give it an? \S+/],
      [["node", ""], /^error: <ip> is empty: /],
      [["keygen", "--out", ""], /^error: --out is empty: give it a file/],
    ];
    const runs = await Promise.all(cases.map(([args]) => p2p(args)));
    runs.forEach((run, index) => {
      expect({ args: cases[index]![0], code: run.code }).toEqual({ args: cases[index]![0], code: EXIT.USAGE });
      expect(run.stderr).toMatch(cases[index]![1]);
      expect(run.stderr.trim().split("\n")).toHaveLength(1);
      expect(run.stderr).toContain("(see: p2p ");
    });
  }, 30_000);

  test("a bad address is a usage error for dns as for node, and a missing output folder is 'not found' for keygen as for download", async () => {
    const [badHost, badIp, keygen] = await Promise.all([
      p2p(["dns", "--host", "127.0.77.300", "--port", "0", "--db", join(dir.path, "dns.db")]),
      p2p(["node", "notanip"]),
      p2p(["keygen", "--out", join(dir.path, "nonexistent", "dir", "k")]),
    ]);
    expect(badHost.code).toBe(EXIT.USAGE);
    expect(badHost.stderr).toBe("error: invalid --host '127.0.77.300': expected an IP address such as 127.0.0.1 or 0.0.0.0, or a host name\n");
    expect(badIp.code).toBe(EXIT.USAGE);
    expect(keygen.code).toBe(EXIT.NOT_FOUND);
    expect(keygen.stderr).toBe(`error: the folder ${join(dir.path, "nonexistent", "dir")} does not exist; create it first or choose another --out\n`);
  }, 30_000);

  test("version --json prints the version as JSON, as every other command's --json does", async () => {
    for (const args of [["version", "--json"], ["client", "--version", "--json"]]) {
      const run = await p2p(args);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    }
  }, 30_000);

  test("the menu with no node running says so at once, with one line and exit 3, instead of opening", async () => {
    const menu = onTerminal([binary, "client"], dir.path, { ...process.env, P2P_HOME: home, NO_COLOR: "1" } as Record<string, string>);
    expect(await menu.proc.exited).toBe(EXIT.NOT_FOUND);
    expect(menu.screen()).toContain(`error: no running node found under ${home}`);
    expect(menu.screen()).not.toContain("What do you want to do?");
    expect(readdirSync(home)).toEqual([]);
  }, 30_000);
});
