// What went wrong when people used the real binary: output paths, a stopped node, Ctrl-C on a download, Esc in the menu, log lines, SERVED after a restart.

import { beforeAll, describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NODE_ANSWER_TIMEOUT_MS } from "../../src/cli/client/session";
import { EXIT } from "../../src/cli/exit-codes";
import type { Testnet, TestnetNode } from "../../src/testnet";
import type { SharedEntry, TransfersReport } from "../../src/wire/control";
import { cliTestnet } from "../helpers/cli-testnet";
import { startP2P } from "../helpers/processes";
import { CTRL_C, DOWN, ENTER, onTerminal } from "../helpers/terminal";
import { loopbackAddress, waitFor } from "../helpers/wait";

const cli = cliTestnet({ nodes: 2 });
const { dir, p2p, json } = cli;
let net: Testnet;
let binary: string;
let alpha: TestnetNode;
let beta: TestnetNode;
beforeAll(() => {
  ({ net, binary } = cli);
  [alpha, beta] = net.nodes as [TestnetNode, TestnetNode];
});

function writeRandom(name: string, size: number): string {
  const path = join(dir.path, name);
  writeFileSync(path, randomBytes(size));
  return path;
}

describe("output paths and names", () => {
  test("an --out ending in '/' is a folder: created when missing and the file saved inside it, never a file of that name", async () => {
    const original = writeRandom("slash.bin", 5_000);
    await json(["client", "upload", original, "--node", alpha.ip]);
    const folder = join(dir.path, "dl", "newdir");
    const report = await json<{ path: string }>(["client", "download", "slash.bin", "--out", `${folder}/`, "--no-share", "--node", beta.ip]);
    expect(report.path).toBe(join(folder, "slash.bin"));
    expect(statSync(folder).isDirectory()).toBe(true);
    expect(readFileSync(report.path).equals(readFileSync(original))).toBe(true);
    // A file where the folder should be: refused, the file untouched.
    writeFileSync(join(dir.path, "plain"), "mine");
    const onFile = await p2p(["client", "download", "slash.bin", "--out", `${join(dir.path, "plain")}/`, "--node", beta.ip]);
    expect(onFile.code).toBe(EXIT.AMBIGUOUS);
    expect(onFile.stderr).toMatch(/plain is a file, not a folder/);
    expect(readFileSync(join(dir.path, "plain"), "utf8")).toBe("mine");
  }, 60_000);

  test("a folder that takes no new files, and the name '.', are refused with messages about what the user typed", async () => {
    const original = writeRandom("proc.txt", 100);
    await json(["client", "upload", original, "--node", alpha.ip]);
    const proc = await p2p(["client", "download", "proc.txt", "--out", "/proc/foo.txt", "--node", beta.ip]);
    expect(proc.code).toBe(EXIT.FAILURE);
    expect(proc.stderr).toBe("error: cannot create /proc/foo.txt: /proc does not take new files\n");
    const dot = await p2p(["client", "upload", original, "--name", ".", "--node", alpha.ip]);
    expect(dot.code).toBe(EXIT.USAGE);
    expect(dot.stderr).toBe("error: a shared name cannot be '.' (it means a folder, not a file)\n");
  }, 60_000);

  test("downloading a complete folder again is refused as a complete file is: exit 4 and --force to do it again", async () => {
    const root = join(dir.path, "pics");
    mkdirSync(root);
    writeFileSync(join(root, "one.raw"), randomBytes(3_000));
    writeFileSync(join(root, "two.raw"), randomBytes(4_000));
    await json(["client", "upload", root, "--node", alpha.ip]);
    const out = join(dir.path, "pics copy");
    await json(["client", "download", "pics", "--out", out, "--node", beta.ip]);
    const again = await p2p(["client", "download", "pics", "--out", out, "--node", beta.ip]);
    expect(again.code).toBe(EXIT.AMBIGUOUS);
    expect(again.stderr).toBe(`error: ${out} already holds all of folder pics; use --force to download it again\n`);
    expect((await p2p(["client", "download", "pics", "--out", out, "--force", "--node", beta.ip])).code).toBe(0);
  }, 60_000);
});

describe("a node that does not answer, and Ctrl-C", () => {
  test(`client status against a stopped node (SIGSTOP) fails after ${NODE_ANSWER_TIMEOUT_MS / 1000} s with one line, not after 30 s`, async () => {
    process.kill(beta.process.pid, "SIGSTOP");
    try {
      // runP2P kills the command at 20 s: before the fix it waited 30 s for STATUS.
      const status = await p2p(["client", "status", "--node", beta.ip], 20_000);
      expect(status.code).toBe(EXIT.UNREACHABLE);
      expect(status.stderr).toBe(`error: the node at ${beta.socketPath} did not answer within ${NODE_ANSWER_TIMEOUT_MS / 1000} s; is it stopped (kill -STOP) or stuck?\n`);
    } finally {
      process.kill(beta.process.pid, "SIGCONT");
    }
    expect((await p2p(["client", "status", "--node", beta.ip])).code).toBe(0);
    // The next test adds a node: the two-node ring must have closed again first. A node that lost its only
    // successor while a third joined was once seen still without one 30 s later (see the stop note of 2026-12-05).
    await net.waitForConsistentRing(30_000);
  }, 60_000);

  test("Ctrl-C on a download ends its progress line with one line, exits 130, and transfers calls it stopped, not failed", async () => {
    const slow = await net.addNode(undefined, { args: ["--upload-limit", "1"] });
    await net.waitForConsistentRing(30_000);
    const original = writeRandom("slow.iso", 12 * 1024 * 1024);
    await json(["client", "upload", original, "--node", slow.ip]);
    const out = join(dir.path, "slow.out");
    const download = onTerminal([binary, "client", "download", "slow.iso", "--out", out, "--node", beta.ip], dir.path, net.env);
    await download.when(/downloading \[[#-]+\] +\d+% .* from 1 source/, CTRL_C, 20_000);
    expect(await download.proc.exited).toBe(EXIT.INTERRUPTED);
    // The progress line is wiped and the one line ends with a newline: the shell's prompt starts on a line of its own.
    expect(download.screen()).toMatch(/stopped the download of slow\.iso; run it again to resume\r?\n$/);
    expect(download.screen()).not.toMatch(/error/);
    const entry = await waitFor("the node to end the download", async () => {
      const report = await json<TransfersReport>(["client", "transfers", "--node", beta.ip]);
      const found = report.downloads.find((candidate) => candidate.name === "slow.iso");
      return found && found.state !== "downloading" ? found : null;
    }, 10_000);
    expect(entry.state).toBe("stopped");
    expect(entry.error).toBeUndefined();
    expect((await p2p(["client", "transfers", "--node", beta.ip])).stdout).toMatch(/slow\.iso .* stopped\n/);
    expect(existsSync(`${out}.part`)).toBe(true);
    await net.stopNode(slow);
  }, 90_000);

  test("Esc in a menu question goes back to the menu; Ctrl-C there still exits 130", async () => {
    const menu = onTerminal([binary, "client", "--node", alpha.ip], dir.path, net.env);
    await menu.when("What do you want to do?", `${DOWN}${DOWN}${DOWN}${ENTER}`); // search
    await menu.when("Search for:", "\x1b");
    await menu.when("What do you want to do?", `${DOWN}${DOWN}${DOWN}${ENTER}`);
    await menu.when("Search for:", CTRL_C);
    expect(await menu.proc.exited).toBe(EXIT.INTERRUPTED);
  }, 60_000);
});

describe("what a node shows", () => {
  test("log lines on a terminal end at their last word, not padded with spaces to its width", async () => {
    const dns = onTerminal([binary, "dns", "--host", loopbackAddress(), "--port", "0", "--db", join(dir.path, "tty-dns.db")], dir.path, net.env);
    await dns.when("p2p dns listening on", "");
    await dns.when(/peer TTL \d+ s\)/, CTRL_C);
    await dns.proc.exited;
    // What is left on screen: the rest of the "listening" line, then the "stopping" line.
    const screen = dns.screen();
    expect(screen).toContain("SIGINT: stopping");
    expect(screen.split("\n").filter((line) => / +\r?$/.test(line))).toEqual([]);
  }, 30_000);

  test("the bytes a node served (SHARED's SERVED) survive its restart", async () => {
    const original = writeRandom("served.bin", 300_000);
    await json(["client", "upload", original, "--node", alpha.ip]);
    await json(["client", "download", "served.bin", "--out", join(dir.path, "served.copy"), "--no-share", "--node", beta.ip]);
    const servedOf = async () => (await json<SharedEntry[]>(["client", "shared", "--node", alpha.ip])).find((entry) => entry.name === "served.bin")?.servedBytes;
    expect(await servedOf()).toBe(300_000);
    await net.stopNode(alpha);
    alpha = await net.restartNode(alpha);
    expect(await servedOf()).toBe(300_000);
  }, 60_000);

  test("a keyed node whose DNS hangs up before the handshake (a DNS stopping) is not told the keys differ", async () => {
    const key = join(dir.path, "net.key");
    expect((await p2p(["keygen", "--out", key])).code).toBe(0);
    // A DNS that is closing: it accepts connections and ends them at once, before answering anything.
    const closing = Bun.listen<undefined>({ hostname: loopbackAddress(), port: 0, socket: { open: (socket: Socket<undefined>) => void socket.end(), data: () => {} } });
    try {
      const node = startP2P(["node", loopbackAddress(), "--dns", `${closing.hostname}:${closing.port}`, "--key", key, "--data", join(dir.path, "keyed-node")], {
        executable: [binary],
        env: net.env,
      });
      const [line] = await node.waitForStderr(/DNS at [^\n]* did not answer[^\n]*/, 15_000);
      expect(line).toContain("closed the connection before answering the handshake (is it stopping?)");
      expect(line).not.toContain("does not use this network's key");
      await node.stop();
    } finally {
      closing.stop(true);
    }
  }, 30_000);
});
