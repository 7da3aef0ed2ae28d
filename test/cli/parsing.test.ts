// The real binary's command line: options anywhere, unknown ones refused with "did you mean", one-line errors, exit codes, completion.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import packageJson from "../../package.json";
import { EXIT } from "../../src/cli/exit-codes";
import { builtBinary } from "../helpers/binary";
import { runP2P, stopAllProcesses } from "../helpers/processes";
import { tempDir } from "../helpers/wait";

const dir = tempDir();
afterEach(stopAllProcesses);
afterAll(() => dir.remove());

/** Runs the binary in `dir` with a P2P_HOME of its own (no node runs there) and colour allowed: output must still be plain. */
async function p2p(args: string[], env: Record<string, string> = {}) {
  const binary = await builtBinary();
  return runP2P(args, { executable: ["/usr/bin/env", "-C", dir.path, binary], env: { P2P_HOME: join(dir.path, "home"), NO_COLOR: "", ...env } });
}

/** A usage error: exit 2, exactly one line on stderr naming the help command, nothing on stdout, no colour. */
function expectUsageError(result: { code: number; stdout: string; stderr: string }, pattern: RegExp): void {
  expect(result.code).toBe(EXIT.USAGE);
  expect(result.stdout).toBe("");
  expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).toContain("--help)");
  expect(result.stderr).not.toContain("\x1b[");
}

describe("p2p's command line", () => {
  test("an unknown option is refused with the closest known one, and nothing runs", async () => {
    expectUsageError(await p2p(["dns", "--hots", "127.0.0.1"]), /^error: unknown option '--hots'; did you mean --host\?/);
    expect(readdirSync(dir.path).filter((name) => name.endsWith(".db"))).toEqual([]);
    expectUsageError(await p2p(["node", "127.0.0.9", "--dsn", "127.0.0.1"]), /did you mean --dns\?/);
    expectUsageError(await p2p(["client", "list", "--jsno"]), /did you mean --json\?/);
    expectUsageError(await p2p(["client", "list", "--zzzzzz"]), /unknown option '--zzzzzz' \(see/);
  }, 120_000);

  test("unknown commands, missing and extra arguments are one line each, with exit code 2", async () => {
    expectUsageError(await p2p(["client", "lsit"]), /unknown command 'lsit'; did you mean list\?/);
    expectUsageError(await p2p(["nod", "127.0.0.9"]), /unknown command 'nod'; did you mean node\?/);
    expectUsageError(await p2p(["node"]), /missing <ip>/);
    expectUsageError(await p2p(["client", "search", ""]), /search needs a word/);
    expectUsageError(await p2p(["client", "download", "a.txt", "out.txt", "extra"]), /unexpected argument 'extra'/);
    expectUsageError(await p2p(["client", "download", "a.txt", "out.txt", "--out", "x"]), /give the output path once/);
    expectUsageError(await p2p(["dns", "--port"]), /--port needs a value/);
  }, 120_000);

  test("with --json an error is also one JSON object on stdout, whatever the position of --json", async () => {
    const result = await p2p(["client", "--json", "lsit"]);
    expect(result.code).toBe(EXIT.USAGE);
    expect(JSON.parse(result.stdout)).toEqual({ error: { code: "MALFORMED", message: expect.stringContaining("did you mean list?"), exit: 2 } });
    const missing = await p2p(["client", "status", "--json"]);
    expect(missing.code).toBe(EXIT.NOT_FOUND);
    expect(JSON.parse(missing.stdout).error.code).toBe("NOT_FOUND");
  }, 120_000);

  test("version works as a command, as --version, and after client", async () => {
    for (const args of [["version"], ["--version"], ["client", "--version"]]) {
      const result = await p2p(args);
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe(packageJson.version);
    }
  }, 120_000);

  test("help is plain text off a terminal and names the whole command", async () => {
    const help = await p2p(["client", "download", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("p2p client download [OPTIONS] <NAME> [PATH]");
    expect(help.stdout).toContain("--no-share");
    expect(help.stdout).not.toContain("\x1b[");
  }, 120_000);

  test("an unwritable data directory is one line, never a stack trace", async () => {
    const result = await p2p(["node", "127.0.0.9", "--data", "/proc/self/no-such/p2p", "--dns", "127.0.0.1:1"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/^error: .*no-such/);
    expect(result.stderr).not.toMatch(/\bat \S+ \(|frames/);
  }, 120_000);

  test("completion scripts name the commands and options, and bash completes --node with the nodes under P2P_HOME", async () => {
    const home = join(dir.path, "completion-home");
    mkdirSync(join(home, "127.0.0.5"), { recursive: true });
    mkdirSync(join(home, "127.0.0.6"), { recursive: true });
    const listener = Bun.listen({ unix: join(home, "127.0.0.5", "node.sock"), socket: { data() {} } });
    try {
      const bash = await p2p(["completion", "bash"]);
      expect(bash.code).toBe(0);
      expect(bash.stdout).toContain("complete -o default -F _p2p p2p");
      expect(bash.stdout).toContain("transfers");
      const script = join(dir.path, "p2p.bash");
      await Bun.write(script, bash.stdout);
      const shell = Bun.spawn(["bash", "-c", `source ${script}; COMP_WORDS=(p2p client --node ""); COMP_CWORD=3; _p2p; echo "\${COMPREPLY[@]}"`], {
        env: { PATH: "/usr/bin:/bin", P2P_HOME: home },
        stdout: "pipe",
      });
      expect((await new Response(shell.stdout).text()).trim()).toBe("127.0.0.5");
      expect(await shell.exited).toBe(0);
      for (const shellName of ["zsh", "fish"]) {
        const other = await p2p(["completion", shellName]);
        expect(other.code).toBe(0);
        expect(other.stdout).toContain("unshare");
      }
      expectUsageError(await p2p(["completion", "bsh"]), /did you mean bash\?/);
    } finally {
      listener.stop(true);
    }
    expect(existsSync(join(home, "127.0.0.5", "node.sock"))).toBe(false);
  }, 120_000);
});
