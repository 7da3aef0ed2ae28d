// `npm run cluster`: flags checked with one clear line; start records exactly the pids that stop then stops.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { isRunning } from "../../scripts/localnet/pids";
import { builtBinary } from "../helpers/binary";
import { tempDir } from "../helpers/wait";
import { killLeftovers, reportedHome, reportedProcesses, runScript, testSubnet } from "./scripts";

const outputs: string[] = [];
const state = tempDir("p2p-cluster-state-");
const statePath = join(state.path, "cluster.json");
const env = { P2P_CLUSTER_STATE: statePath };

beforeAll(async () => {
  await builtBinary();
}, 120_000);

afterEach(() => {
  for (const stdout of outputs.splice(0)) killLeftovers(stdout);
});
afterAll(() => state.remove());

describe("npm run cluster", () => {
  test("cluster rejects a bad node count, a base that is not 127.x.y.z and an unknown command with one clear line each", async () => {
    const cases: [string[], string][] = [
      [["--nodes", "0"], "cluster failed: invalid --nodes '0': expected a whole number from 1 to 100"],
      [["--nodes", "many"], "cluster failed: invalid --nodes 'many': expected a whole number from 1 to 100"],
      // Nothing but 127.0.0.0/8 may reach a process, even as input to reject: a host name and a .0 stand in for "not 127.x.y.z".
      [["--base", "localhost"], "cluster failed: invalid --base 'localhost': expected a loopback address 127.x.y.z with z from 1 to 253, e.g. 127.0.0.10"],
      [["--base", "127.0.0.0"], "cluster failed: invalid --base '127.0.0.0': expected a loopback address 127.x.y.z with z from 1 to 253, e.g. 127.0.0.10"],
      [["--base", "127.0.0.250", "--nodes", "9"], "cluster failed: 9 nodes after 127.0.0.250 do not fit in 127.0.0.0/24: use at most 4, or a lower --base"],
      [["restart"], "cluster failed: unknown command 'restart': use start, status or stop (see --help)"],
      [["--frobnicate"], "cluster failed: unknown flag --frobnicate (see --help)"],
    ];
    const runs = await Promise.all(cases.map(([args]) => runScript(["cluster.ts", ...args], { env })));
    runs.forEach((run, index) => {
      outputs.push(run.stdout);
      expect({ code: run.code, stderr: run.stderr.trim() }).toEqual({ code: 1, stderr: cases[index]![1] });
      expect(run.stdout).toBe("");
    });
  }, 30_000);

  test("cluster start runs a DNS on the base address and N nodes after it, and stop kills exactly those pids", async () => {
    const base = `${testSubnet()}.20`;
    const start = await runScript(["cluster.ts", "--nodes", "3", "--base", base], { env, timeoutMs: 30_000 });
    outputs.push(start.stdout);
    expect(start.stderr).toBe("");
    expect(start.code).toBe(0);
    const processes = reportedProcesses(start.stdout);
    const prefix = base.replace(/\.20$/, "");
    expect(processes.map(({ address }) => address)).toEqual([`${base}:7494`, `${prefix}.21:7495`, `${prefix}.22:7495`, `${prefix}.23:7495`]);
    expect(processes.filter(({ pid }) => !isRunning(pid))).toEqual([]);
    expect(start.stdout).toContain(`client status --node ${prefix}.21`);

    const status = await runScript(["cluster.ts", "status"], { env });
    expect(status.stdout).toMatch(new RegExp(`${base.replaceAll(".", "\\.")}:7494\\s+cluster\\s+.*4 of 4`));

    const stop = await runScript(["cluster.ts", "stop", "--base", base], { env, timeoutMs: 20_000 });
    expect(stop.stdout).toContain(`stopped 4 processes of the cluster network at ${base}:7494`);
    expect(processes.filter(({ pid }) => isRunning(pid))).toEqual([]);
    expect(existsSync(reportedHome(start.stdout)!)).toBe(false);
    expect(existsSync(statePath)).toBe(false);
  }, 60_000);
});
