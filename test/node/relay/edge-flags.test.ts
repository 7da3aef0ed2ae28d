// `p2p node` refuses --edge and --relay-limit given badly, or together with what contradicts them, in one clear line and before it starts.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { runP2P, stopAllProcesses } from "../../helpers/processes";
import { loopbackAddress, tempDir } from "../../helpers/wait";

const dir = tempDir();
afterEach(stopAllProcesses);
afterAll(() => dir.remove());

const home = () => join(dir.path, `home-${Math.random().toString(16).slice(2)}`);

/** `p2p node <ip> <flags>` against a DNS nobody runs: a flag refused stops it before it tries to join. */
async function refused(flags: string[], env: Record<string, string> = {}): Promise<string> {
  const result = await runP2P(["node", loopbackAddress(), "--dns", "127.0.0.1:1", ...flags], { env: { P2P_HOME: home(), ...env } });
  expect(result.code).not.toBe(0);
  const lines = result.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe("edge and relay flags", () => {
  test("--relay-limit that is not a count is one line naming the flag", async () => {
    expect(await refused(["--relay-limit", "abc"])).toBe("error: invalid --relay-limit 'abc': expected a whole number from 0 to 1024");
    expect(await refused(["--relay-limit", "-1"])).toBe("error: invalid --relay-limit '-1': expected a whole number from 0 to 1024");
  }, 30_000);

  test("--edge with --relay-limit, --advertise or --also is refused, saying why", async () => {
    expect(await refused(["--edge", "--relay-limit", "4"])).toMatch(/^error: --edge and --relay-limit contradict each other: an edge node relays for nobody/);
    expect(await refused(["--edge", "--advertise", "203.0.113.7"])).toMatch(/^error: --edge and --advertise contradict each other/);
    expect(await refused(["--edge", "--also", "::1"])).toMatch(/^error: --edge and --also contradict each other/);
  }, 30_000);

  test("--also of the node's own family is refused, naming the family it must be", async () => {
    expect(await refused(["--also", "127.0.0.9"])).toMatch(/^error: --also 127\.0\.0\.9 is an IPv4 address like the node's own .*: it names this host's address in the other family \(IPv6\)$/);
  }, 30_000);
});
