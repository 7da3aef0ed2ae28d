// `p2p keygen` and the --key option of `p2p dns` and `p2p node`: the file it writes, and one clear line for a bad key file.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/cli/exit-codes";
import { runP2P, stopAllProcesses } from "../helpers/processes";
import { loopbackAddress, tempDir } from "../helpers/wait";

const dir = tempDir();
afterEach(stopAllProcesses);
afterAll(() => dir.remove());

const p2p = (args: string[], env: Record<string, string> = {}) => runP2P(args, { env: { P2P_KEY: "", P2P_HOME: dir.path, ...env } });

/** A failure is exactly one line on stderr, `error: ...`, never a stack trace. */
function oneErrorLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith("error: ");
  return lines[0]!;
}

describe("p2p keygen", () => {
  test("writes 64 hex digits to a file only its owner can read, and never replaces it without --force", async () => {
    const path = join(dir.path, "network.key");
    const made = await p2p(["keygen", "--out", path]);
    expect(made.code).toBe(EXIT.OK);
    expect(made.stdout).toContain(`--key ${path}`);
    const key = readFileSync(path, "utf8");
    expect(key).toMatch(/^[0-9a-f]{64}\n$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);

    const again = await p2p(["keygen", "--out", path]);
    expect(again.code).toBe(EXIT.AMBIGUOUS);
    expect(oneErrorLine(again.stderr)).toContain("already exists; pass --force");
    expect(readFileSync(path, "utf8")).toBe(key);

    const forced = await p2p(["keygen", "--out", path, "--force"]);
    expect(forced.code).toBe(EXIT.OK);
    expect(readFileSync(path, "utf8")).not.toBe(key);
  });

  test("p2p --help teaches keygen, and dns and node --help teach --key", async () => {
    expect((await p2p(["--help"])).stdout).toContain("keygen");
    for (const command of ["dns", "node"]) expect((await p2p([command, "--help"])).stdout).toContain("--key");
  });
});

describe("--key and P2P_KEY", () => {
  const malformed = join(dir.path, "malformed.key");
  writeFileSync(malformed, "this is not a key\n", { mode: 0o600 });

  test("a missing, malformed or empty key file is one clear error line and the usage exit code", async () => {
    const host = loopbackAddress();
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [["dns", "--host", host, "--port", "0", "--key", join(dir.path, "missing.key")], {}, /cannot read the network key .*missing\.key: no such file \(create one with `p2p keygen --out FILE`\)/],
      [["dns", "--host", host, "--port", "0", "--key", malformed], {}, /malformed\.key is not a network key: expected 64 hex digits/],
      [["node", host, "--data", join(dir.path, "node")], { P2P_KEY: malformed }, /malformed\.key is not a network key/],
      [["node", host, "--data", join(dir.path, "node"), "--key", dir.path], {}, /is not a file/],
      [["dns", "--host", host, "--port", "0", "--key", ""], {}, /--key is empty: give it a file/],
    ];
    for (const [args, env, message] of cases) {
      const result = await p2p(args, env);
      expect(result.code).toBe(EXIT.USAGE);
      expect(oneErrorLine(result.stderr)).toMatch(message);
    }
  }, 30_000);
});
