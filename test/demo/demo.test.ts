// `npm run demo` end to end: five nodes from dist/p2p share, find, download and verify a file, and nothing is left running.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { isRunning } from "../../src/testnet/pids";
import { builtBinary } from "../helpers/binary";
import { tempDir } from "../helpers/wait";
import { killLeftovers, reportedHome, reportedProcesses, runScript, testSubnet } from "./scripts";

const outputs: string[] = [];
const state = tempDir("p2p-demo-state-");
// A test run never touches the user's own cluster state file.
const env = { P2P_CLUSTER_STATE: join(state.path, "cluster.json") };

beforeAll(async () => {
  await builtBinary();
}, 120_000);

afterEach(() => {
  for (const stdout of outputs.splice(0)) killLeftovers(stdout);
});
afterAll(() => state.remove());

describe("npm run demo", () => {
  test("the demo shares a file from alpha, echo finds and downloads it with a matching SHA-256, and every process it started is gone", async () => {
    const run = await runScript(["demo.ts", "--subnet", testSubnet()], { env, timeoutMs: 45_000 });
    outputs.push(run.stdout);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^sha256\s+[0-9a-f]{64}\s+verified$/m);
    expect(run.stdout).toMatch(/^echo\s+downloads it from 1 source \(alpha\)/m);
    for (const name of ["alpha", "beta", "charlie", "delta", "echo"]) expect(run.stdout).toMatch(new RegExp(`^  ${name}\\s+127\\.`, "m"));
    const processes = reportedProcesses(run.stdout);
    expect(processes).toHaveLength(6);
    expect(processes.filter(({ pid }) => isRunning(pid))).toEqual([]);
    expect(existsSync(reportedHome(run.stdout)!)).toBe(false);
  }, 60_000);

  test("the demo with --key runs the same steps on a private network and leaves nothing behind", async () => {
    const run = await runScript(["demo.ts", "--key", "--subnet", testSubnet()], { env, timeoutMs: 45_000 });
    outputs.push(run.stdout);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^  P2P_KEY  \S+network\.key: a private network/m);
    expect(run.stdout).toMatch(/^sha256\s+[0-9a-f]{64}\s+verified$/m);
    expect(reportedProcesses(run.stdout).filter(({ pid }) => isRunning(pid))).toEqual([]);
    expect(existsSync(reportedHome(run.stdout)!)).toBe(false);
  }, 60_000);

  test("the demo with --keep leaves the network running, and cluster stop then stops exactly its processes", async () => {
    const run = await runScript(["demo.ts", "--keep", "--subnet", testSubnet()], { env, timeoutMs: 45_000 });
    outputs.push(run.stdout);
    expect(run.code).toBe(0);
    const processes = reportedProcesses(run.stdout);
    expect(processes).toHaveLength(6);
    expect(processes.filter(({ pid }) => !isRunning(pid))).toEqual([]);
    expect(run.stdout).toContain("npm run cluster -- stop");
    expect(run.stdout).toContain(`kill ${processes.map(({ pid }) => pid).join(" ")}`);

    const stop = await runScript(["cluster.ts", "stop"], { env, timeoutMs: 20_000 });
    expect(stop.stdout).toContain("stopped 6 processes of the demo network");
    expect(stop.code).toBe(0);
    expect(processes.filter(({ pid }) => isRunning(pid))).toEqual([]);
    expect(existsSync(reportedHome(run.stdout)!)).toBe(false);
  }, 60_000);

  test("a demo whose addresses are taken says so in one line and starts nothing", async () => {
    const subnet = testSubnet();
    const squatter = Bun.listen({ hostname: `${subnet}.1`, port: 7494, socket: { data() {} } });
    try {
      const run = await runScript(["demo.ts", "--subnet", subnet], { env, timeoutMs: 20_000 });
      outputs.push(run.stdout);
      expect(run.code).toBe(1);
      expect(run.stderr.trim().split("\n")).toEqual([`demo failed: ${subnet}.1:7494 is already in use (another demo or p2p network?): stop it (npm run cluster -- stop) or pick another --subnet, e.g. 127.0.1`]);
      expect(reportedProcesses(run.stdout)).toEqual([]);
    } finally {
      squatter.stop(true);
    }
  }, 30_000);
});
