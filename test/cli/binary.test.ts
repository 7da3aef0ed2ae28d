// The compiled executable works on its own: no Bun on PATH, no .env or bunfig.toml picked up from where it runs.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import packageJson from "../../package.json";
import { connect } from "../../src/protocol/client";
import { decodeLines } from "../../src/protocol/frame";
import { builtBinary } from "../helpers/binary";
import { runP2P, startP2P, stopAllProcesses } from "../helpers/processes";
import { loopbackAddress, tempDir } from "../helpers/wait";

const dir = tempDir();
afterEach(stopAllProcesses);
afterAll(() => dir.remove());

// The environment of a machine that has the binary and nothing else.
const bare = { PATH: "/usr/bin:/bin" };

describe("dist/p2p", () => {
  test("prints its help and version with no Bun installed", async () => {
    const binary = await builtBinary();
    const help = await runP2P(["--help"], { executable: [binary], env: bare });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("dns");
    expect(help.stdout).toContain("client");
    const version = await runP2P(["--version"], { executable: [binary], env: bare });
    expect(version.stdout.trim()).toBe(packageJson.version);
  }, 120_000);

  test("runs the DNS and answers a JOIN, ignoring a .env in its working directory", async () => {
    const binary = await builtBinary();
    writeFileSync(join(dir.path, ".env"), "P2P_LOG_LEVEL=silent\n");
    const hostname = loopbackAddress();
    const dns = startP2P(["dns", "--host", hostname, "--port", "0", "--db", join(dir.path, "dns.db")], {
      executable: ["/usr/bin/env", "-C", dir.path, binary],
      env: bare,
    });
    const port = Number((await dns.waitForStderr(/listening on [\d.]+:(\d+)/))[1]);
    const client = await connect({ hostname, port });
    try {
      await client.request("JOIN", ["1", "127.0.0.2"]);
      expect(decodeLines((await client.request("PEERS")).body)).toEqual(["1,1,127.0.0.2,7495"]);
    } finally {
      client.close();
    }
  }, 120_000);
});
