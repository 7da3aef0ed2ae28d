// The real binary on IPv6 loopback only: a DNS at [::1], nodes on ::1 found by `--node ::1` in every spelling, addresses printed bracketed.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { builtBinary } from "../helpers/binary";
import { runP2P, startP2P, stopAllProcesses } from "../helpers/processes";
import { hasIpv6Loopback, tempDir, waitFor } from "../helpers/wait";

const FAST = ["--stabilize", "200", "--rpc-timeout", "1000"];
const dir = tempDir();

afterEach(() => stopAllProcesses());
afterAll(() => dir.remove());

describe.skipIf(!hasIpv6Loopback())("the p2p binary on ::1 (skipped: this host has no IPv6 loopback)", () => {
  test("status --node ::1 finds a node on ::1 off the default port, --dns [::1]:port works, and status prints [::1]:port", async () => {
    const binary = await builtBinary();
    const run = (args: string[]) => runP2P(args, { executable: [binary], env });
    const home = join(dir.path, "home");
    const env = { P2P_HOME: home };
    // ::1 is one address for the whole machine: random high ports keep this test clear of others; the second node's differs mod 8.
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const [dnsPort, portA, portB] = [base, base + 1, base + 2];
    const dns = startP2P(["dns", "--host", "::1", "--port", String(dnsPort), "--db", join(dir.path, "dns.db")], { executable: [binary], env });
    await dns.waitForStderr(/listening on \[::1\]:/);
    const a = startP2P(["node", "::1", "--port", String(portA), "--dns", `[::1]:${dnsPort}`, ...FAST], { executable: [binary], env });
    await a.waitForStderr(/is in the ring/, 30_000);
    expect(a.stderr()).toContain(`at [::1]:${portA} is in the ring`);

    for (const spelling of ["::1", "[::1]", `[::1]:${portA}`, `0:0:0:0:0:0:0:1`, `::1-${portA}`]) {
      const found = await run(["client", "status", "--node", spelling]);
      expect(`${spelling}: ${found.code} ${found.stderr}`).toBe(`${spelling}: 0 `);
      expect(found.stdout).toMatch(new RegExp(`^node +[0-9a-f]{12} +\\[::1\\]:${portA}$`, "m"));
      expect(found.stdout).toMatch(new RegExp(`^dns +\\[::1\\]:${dnsPort}$`, "m"));
    }

    const b = startP2P(["node", "::1", "--port", String(portB), "--dns", `[::1]:${dnsPort}`, ...FAST], { executable: [binary], env });
    await b.waitForStderr(/is in the ring/, 30_000);
    const ambiguous = await run(["client", "status", "--node", "::1"]);
    expect(ambiguous.code).not.toBe(0);
    expect(ambiguous.stderr.trim()).toBe(
      `error: 2 nodes run on ::1 under ${home}: [::1]:${portA}, [::1]:${portB}; choose one with --node <ip>:<port>`,
    );
    await waitFor("node A to see node B as its successor", async () => {
      const status = await run(["client", "status", "--node", `[::1]:${portA}`]);
      return status.stdout.includes(`[::1]:${portB}`) ? status : null;
    }, 20_000);

    writeFileSync(join(dir.path, "v6.txt"), "shared on ::1\n");
    const upload = await run(["client", "upload", join(dir.path, "v6.txt"), "--node", `[::1]:${portB}`]);
    expect(`${upload.code} ${upload.stderr}`).toBe("0 ");
    const listed = await waitFor("the file in node A's list", async () => {
      const list = await run(["client", "list", "--node", `[::1]:${portA}`]);
      return list.stdout.includes("v6.txt") ? list : null;
    }, 20_000);
    expect(listed.code).toBe(0);
    const link = await run(["client", "link", "v6.txt", "--node", `[::1]:${portB}`]);
    // A link writes the brackets percent-encoded (a bare [::1] is a glob in zsh), never ::1:port.
    expect(link.stdout).toContain(`/%5B::1%5D:${portB}`);
    expect(link.stdout).not.toMatch(/\/::1:\d/);
  }, 120_000);
});
