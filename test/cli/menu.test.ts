// The interactive menu on a real pseudo-terminal (util-linux `script`): node choice first, a download pick list, Ctrl-C exits 130.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/cli/exit-codes";
import { type Testnet, createTestnet } from "../../src/testnet";
import { builtBinary } from "../helpers/binary";
import { runP2P } from "../helpers/processes";
import { CTRL_C, DOWN, ENTER, onTerminal } from "../helpers/terminal";
import { tempDir } from "../helpers/wait";

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

describe("p2p client on a terminal", () => {
  test("asks which node when several run, downloads a file picked from the list, and exits 130 on Ctrl-C", async () => {
    const [alpha, beta] = net.nodes;
    const original = join(dir.path, "menu-pick.txt");
    writeFileSync(original, "picked from the menu\n");
    const shared = await runP2P(["client", "upload", original, "--node", alpha!.ip], { executable: [binary], env: net.env });
    expect(shared.code).toBe(0);

    const menu = onTerminal([binary, "client"], dir.path, net.env);
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
