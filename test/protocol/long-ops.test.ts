// Real processes: a download from a rate-limited holder outlives the idle timeout, since progress and keepalives are traffic.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestnet, type Testnet, type TestnetNode } from "../../src/testnet";
import { builtBinary } from "../helpers/binary";
import { tempDir } from "../helpers/wait";

/** Short, so a download several times as long must survive on traffic alone (the issue saw it die at ~56 of 60 s). */
const IDLE_TIMEOUT_SECONDS = 2;
/** MB/s the holder serves: the 6 MB file takes ~6 s, three idle timeouts. */
const UPLOAD_LIMIT = "1";
const FILE_BYTES = 6_000_000;

const dir = tempDir();
let net: Testnet;
let binary: string;

beforeAll(async () => {
  binary = await builtBinary();
  net = await createTestnet({
    nodes: 2,
    executable: [binary],
    nodeArgs: ["--upload-limit", UPLOAD_LIMIT],
    env: { P2P_IDLE_TIMEOUT_SECONDS: String(IDLE_TIMEOUT_SECONDS) },
  });
}, 60_000);

afterAll(async () => {
  await net?.close();
  dir.remove();
});

async function client(node: TestnetNode, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([binary, "client", ...args, "--json", "--node", node.ip], { env: net.env, stdout: "pipe", stderr: "pipe" });
  const killer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  clearTimeout(killer);
  return { code, stdout, stderr };
}

test("a download from a holder at --upload-limit lasting three idle timeouts completes over the control socket", async () => {
  const [holder, downloader] = net.nodes as [TestnetNode, TestnetNode];
  const source = join(dir.path, "slow.bin");
  writeFileSync(source, randomBytes(FILE_BYTES));
  const upload = await client(holder, ["upload", source]);
  expect(upload.stderr).toBe("");
  expect(upload.code).toBe(0);

  const out = join(dir.path, "slow.out");
  const started = performance.now();
  const download = await client(downloader, ["download", "slow.bin", "--out", out]);
  expect(download.stderr).not.toContain("closed the connection");
  expect(download.code).toBe(0);
  expect(performance.now() - started).toBeGreaterThan(IDLE_TIMEOUT_SECONDS * 2 * 1000);
  expect(readFileSync(out).equals(readFileSync(source))).toBe(true);
}, 90_000);
