// The interactive menu on a real pseudo-terminal (util-linux `script`): node choice first, a download pick list, Ctrl-C exits 130.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/cli/exit-codes";
import { type Testnet, createTestnet } from "../../src/testnet";
import { builtBinary } from "../helpers/binary";
import { runP2P } from "../helpers/processes";
import { tempDir, waitFor } from "../helpers/wait";

const dir = tempDir();
let net: Testnet;
let binary: string;

beforeAll(async () => {
  binary = await builtBinary();
  net = await createTestnet({ nodes: 2, executable: [binary], nodeArgs: ["--stabilize", "200", "--rpc-timeout", "1000"] });
  await net.waitForConsistentRing(30_000);
}, 120_000);
afterAll(async () => {
  await net?.close();
  dir.remove();
});

const ENTER = "\r";
const DOWN = "\x1b[B";
const CTRL_C = "\x03";

/** `p2p client` on a pseudo-terminal: keys are typed into it, the screen is read back with colours and cursor moves removed. */
function onTerminal(args: string[], cwd: string) {
  const command = [binary, ...args].map((word) => `'${word}'`).join(" ");
  // A pseudo-terminal starts 0 columns wide: give it a size, or every character wraps onto a line of its own.
  const proc = Bun.spawn(["script", "-qefc", `stty cols 120 rows 40; exec ${command}`, "/dev/null"], {
    cwd,
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...net.env, TERM: "xterm", COLUMNS: "120", LINES: "40" },
  });
  let screen = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) screen += decoder.decode(chunk, { stream: true }).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
  })();
  const killer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  void proc.exited.then(() => clearTimeout(killer));
  return {
    proc,
    screen: () => screen,
    /** Waits for `text` to appear after what was seen so far, then types `keys`. */
    async when(text: string | RegExp, keys: string) {
      await waitFor(`'${text}' on the terminal`, () => (typeof text === "string" ? screen.includes(text) : text.test(screen)), 15_000).catch((error) => {
        throw new Error(`${(error as Error).message}; the screen shows: ${JSON.stringify(screen.slice(-2000))}`);
      });
      // Keep what came after the match: the next prompt may already be on screen.
      const match = typeof text === "string" ? { index: screen.indexOf(text), length: text.length } : { index: screen.search(text), length: screen.match(text)![0].length };
      screen = screen.slice(match.index + match.length);
      proc.stdin.write(keys);
      proc.stdin.flush();
    },
  };
}

describe("p2p client on a terminal", () => {
  test("asks which node when several run, downloads a file picked from the list, and exits 130 on Ctrl-C", async () => {
    const [alpha, beta] = net.nodes;
    const original = join(dir.path, "menu-pick.txt");
    writeFileSync(original, "picked from the menu\n");
    const shared = await runP2P(["client", "upload", original, "--node", alpha!.ip], { executable: [binary], env: net.env });
    expect(shared.code).toBe(0);

    const menu = onTerminal(["client"], dir.path);
    // The nodes are offered in address order: pick beta, which does not hold the file.
    const nodes = [alpha!.ip, beta!.ip].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    await menu.when("which one?", nodes[1] === beta!.ip ? `${DOWN}${ENTER}` : ENTER);
    await menu.when("What do you want to do?", `${DOWN}${DOWN}${ENTER}`); // download
    await menu.when("menu-pick.txt", ENTER);
    await menu.when("Save as", `${join(dir.path, "picked.txt")}${ENTER}`);
    await menu.when(/downloaded menu-pick\.txt/, "");
    await menu.when("What do you want to do?", CTRL_C);
    expect(await menu.proc.exited).toBe(EXIT.INTERRUPTED);
    expect(readFileSync(join(dir.path, "picked.txt"), "utf8")).toBe("picked from the menu\n");
  }, 60_000);
});
