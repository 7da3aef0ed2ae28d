// `npm run cluster`: flags checked with one clear line; start records exactly the pids that stop then stops, and nodes started by hand in its home too.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isRunning } from "../../src/testnet/pids";
import { builtBinary } from "../helpers/binary";
import { startP2P, stopAllProcesses } from "../helpers/processes";
import { tempDir, waitFor } from "../helpers/wait";
import { killLeftovers, reportedHome, reportedProcesses, runScript, testSubnet } from "./scripts";

const outputs: string[] = [];
const state = tempDir("p2p-cluster-state-");
const statePath = join(state.path, "cluster.json");
const env = { P2P_CLUSTER_STATE: statePath };

let binary: string;

beforeAll(async () => {
  binary = await builtBinary();
}, 120_000);

afterEach(async () => {
  await stopAllProcesses();
  for (const stdout of outputs.splice(0)) killLeftovers(stdout);
});
afterAll(() => state.remove());

describe("npm run cluster", () => {
  test("cluster rejects a bad node count, a base that is not 127.x.y.z and an unknown command with one clear line each", async () => {
    const cases: [string[], string][] = [
      [["--nodes", "0"], "cluster failed: invalid --nodes '0': expected a whole number from 1 to 500"],
      [["--nodes", "many"], "cluster failed: invalid --nodes 'many': expected a whole number from 1 to 500"],
      [["--nodes", "501"], "cluster failed: invalid --nodes '501': expected a whole number from 1 to 500"],
      // Nothing but 127.0.0.0/8 may reach a process, even as input to reject: a host name and a .0 stand in for "not 127.x.y.z".
      [["--base", "localhost"], "cluster failed: invalid --base 'localhost': expected a loopback address 127.x.y.z with z from 1 to 253, e.g. 127.0.0.10"],
      [["--base", "127.0.0.0"], "cluster failed: invalid --base '127.0.0.0': expected a loopback address 127.x.y.z with z from 1 to 253, e.g. 127.0.0.10"],
      [["--base", "127.0.255.250", "--nodes", "9"], "cluster failed: 9 nodes after 127.0.255.250 run past 127.0.255.254: use a lower --base"],
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

  test("cluster start runs a DNS on the base address and N nodes after it, on into the next /24, and stop kills exactly those pids", async () => {
    const [a, b, c] = testSubnet().split(".").map(Number) as [number, number, number];
    const prefix = `${a}.${b}.${Math.min(c, 254)}`;
    const next = `${a}.${b}.${Math.min(c, 254) + 1}`;
    const base = `${prefix}.252`;
    const start = await runScript(["cluster.ts", "--nodes", "3", "--base", base], { env, timeoutMs: 30_000 });
    outputs.push(start.stdout);
    expect(start.stderr).toBe("");
    expect(start.code).toBe(0);
    const processes = reportedProcesses(start.stdout);
    expect(processes.map(({ address }) => address)).toEqual([`${base}:7494`, `${prefix}.253:7495`, `${prefix}.254:7495`, `${next}.1:7495`]);
    expect(processes.filter(({ pid }) => !isRunning(pid))).toEqual([]);
    expect(start.stdout).toContain(`client status --node ${prefix}.253`);
    expect(start.stdout).toContain(`node ${next}.2 --dns ${base}:7494 &`);

    const status = await runScript(["cluster.ts", "status"], { env });
    expect(status.stdout).toMatch(new RegExp(`${base.replaceAll(".", "\\.")}:7494\\s+cluster\\s+.*4 of 4\\s+${prefix.replaceAll(".", "\\.")}\\.0/24 ${next.replaceAll(".", "\\.")}\\.0/24`));

    const stop = await runScript(["cluster.ts", "stop", "--base", base], { env, timeoutMs: 20_000 });
    expect(stop.stdout).toContain(`stopped 4 processes of the cluster network at ${base}:7494`);
    expect(processes.filter(({ pid }) => isRunning(pid))).toEqual([]);
    expect(existsSync(reportedHome(start.stdout)!)).toBe(false);
    expect(existsSync(statePath)).toBe(false);
  }, 60_000);

  test("cluster stop also stops a node started by hand from the cluster's hint, before removing the home it runs in", async () => {
    const base = `${testSubnet()}.30`;
    const prefix = base.replace(/\.30$/, "");
    const start = await runScript(["cluster.ts", "--nodes", "1", "--base", base], { env, timeoutMs: 30_000 });
    outputs.push(start.stdout);
    expect(start.code).toBe(0);
    const home = reportedHome(start.stdout)!;
    // The hint: `export P2P_HOME=<home>` and `p2p node <next address> --dns <dns> &`.
    expect(start.stdout).toContain(`node ${prefix}.32 --dns ${base}:7494 &`);
    const byHand = startP2P(["node", `${prefix}.32`, "--dns", `${base}:7494`], { executable: [binary], env: { P2P_HOME: home } });
    await byHand.waitForStderr(/is in the ring/, 20_000);

    const stop = await runScript(["cluster.ts", "stop", "--base", base], { env, timeoutMs: 30_000 });
    expect(stop.stderr).toBe("");
    expect(stop.stdout).toContain(`stopped 2 processes of the cluster network at ${base}:7494, and 1 started by hand (${prefix}.32)`);
    // It left the ring and exited: nothing keeps running on a deleted records.db.
    await waitFor("the node started by hand to exit", () => byHand.proc.exitCode !== null || byHand.proc.signalCode !== null, 5_000);
    expect(byHand.proc.exitCode).toBe(0);
    expect(existsSync(home)).toBe(false);
  }, 60_000);

  test("cluster start refuses a binary built for another CPU with one line instead of failing to spawn it", async () => {
    const other = process.arch === "arm64" ? { machine: 0x3e, name: "x64" } : { machine: 0xb7, name: "arm64" };
    const header = new Uint8Array(64);
    header.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    header[18] = other.machine;
    const fake = join(state.path, "p2p-other-cpu");
    writeFileSync(fake, header, { mode: 0o755 });
    const run = await runScript(["cluster.ts", "--nodes", "1", "--base", `${testSubnet()}.40`, "--binary", fake], { env });
    outputs.push(run.stdout);
    expect({ code: run.code, stderr: run.stderr }).toEqual({
      code: 1,
      stderr: `cluster failed: ${fake} is built for ${other.name} but this machine is ${process.arch}: rebuild it here with npm run build\n`,
    });
  }, 30_000);
});
