// The NAT lab, small (routers A, C and D, one node behind each; public: a dual-stack, an IPv4 and an IPv6-only node): what holds today, and that it leaves nothing behind.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Lab, startLab } from "../../src/testnet/natlab";
import { NAMESPACE_PREFIX, destroyOwnRuns, labNamespaces, labUnavailableReason, removeStaleRuns, run } from "../../src/testnet/natlab-netns";
import type { PairResult } from "../../src/testnet/natlab-matrix";
import { PATH_MODES } from "../../src/testnet/natlab-matrix";
import type { LabReport } from "../../src/testnet/natlab-report";
import { isRunning } from "../../src/testnet/pids";
import { builtBinary } from "../helpers/binary";
import { waitFor } from "../helpers/wait";

const unavailable = labUnavailableReason();
const skipped = unavailable ? ` (skipped: ${unavailable})` : "";
if (unavailable) console.warn(`natlab tests skipped: ${unavailable}`);

/** What the host's own namespace looks like: the lab must not change any of it. */
function hostNetwork(): string {
  return [run(["ip", "-o", "link", "show"]).replace(/\s+link\/.*$/gm, ""), run(["ip", "route", "show"]), run(["ip", "-6", "route", "show"]), run(["iptables-save"]).replace(/^#.*$/gm, "")].join("\n---\n");
}

const pids: number[] = [];
let lab: Lab | null = null;
let report: LabReport | null = null;
let hostBefore = "";
let hostDuring = "";
let leftAfterClose: string[] = [];
let namespacesAfterClose: string[] = [];
let runPrefix = "";

const pair = (from: string, to: string): PairResult => report!.pairs.find((candidate) => candidate.from === from && candidate.to === to)!;

describe.skipIf(unavailable !== null)("the NAT lab", () => {
  let binary = "";
  // Building is not the lab's time: dist/p2p may be built already (shared by every test of the run), or take a while under load.
  beforeAll(async () => {
    binary = await builtBinary();
  }, 120_000);

  beforeAll(async () => {
    hostBefore = hostNetwork();
    try {
      lab = await startLab({
        layout: { routers: ["masquerade", "firewall", "upnp"], publicNodes: ["pub1", "pub2", "v6"], hostsPerRouter: 1 },
        binary,
        fileBytes: 256 * 1024,
        pairTimeoutMs: 8_000,
        joinTimeoutMs: 8_000,
        onSpawn: (proc) => pids.push(proc.pid),
      });
      runPrefix = `${NAMESPACE_PREFIX}${lab.runId}-`;
      hostDuring = hostNetwork();
      report = await lab.measure();
    } finally {
      leftAfterClose = lab ? await lab.close() : [];
      namespacesAfterClose = runPrefix ? labNamespaces(runPrefix) : [];
      destroyOwnRuns();
    }
  }, 80_000);

  afterAll(async () => {
    await lab?.close();
    destroyOwnRuns();
  });

  test("two public nodes download each other's file directly, SHA-256 checked", () => {
    for (const [from, to] of [["pub1", "pub2"], ["pub2", "pub1"]] as const) {
      expect({ from, to, mode: pair(from, to).mode, reason: pair(from, to).reason }).toEqual({ from, to, mode: "direct", reason: "" });
      expect(pair(from, to).bytesPerSecond).toBeGreaterThan(0);
    }
  });

  test("a file held behind router A's NAT or router C's firewall never counts as a direct download from a public node", () => {
    for (const from of ["a1", "c1"]) {
      for (const to of ["pub1", "pub2"]) expect(pair(from, to).mode).not.toBe("direct");
    }
  });

  test("every ordered pair completes its download, SHA-256 checked: a node behind router A or C is an edge node reached through a relay at worst", () => {
    const failed = report!.pairs.filter((result) => result.mode === "failed").map(({ from, to, reason }) => `${from} -> ${to}: ${reason}`);
    expect(failed).toEqual([]);
  });

  test("the IPv6-only node is an edge behind the dual-stack node and exchanges files with every IPv4-only node through it", () => {
    const v6 = lab!.nodes.find((node) => node.host.name === "v6")!;
    expect(v6.log()).toContain("no route to the ring's IPv4 members: joining as an edge node, through a dual-stack relay");
    for (const other of ["pub2", "a1", "c1", "d1"]) {
      for (const [from, to] of [[other, "v6"], ["v6", other]] as const) expect({ from, to, mode: pair(from, to).mode }).toEqual({ from, to, mode: "relayed" });
    }
    // Its relay it reaches straight, by the relay's IPv6 address.
    expect(pair("pub1", "v6").mode).toBe("direct");
  });

  test("the node behind router D, refused NAT-PMP, gets a port mapped by UPnP IGD, joins the ring under the router's address, and every IPv4 node downloads from it directly", () => {
    const d1 = lab!.nodes.find((node) => node.host.name === "d1")!;
    expect(d1.log()).toContain("mapped 203.0.113.14:7495 to this node's port 7495 (UPnP)");
    expect(d1.log()).toContain("behind NAT, port mapped by UPnP: reachable at 203.0.113.14:7495");
    expect(d1.log()).toMatch(/node [0-9a-f]{8} at 203\.0\.113\.14:7495 is in the ring/);
    for (const to of ["pub1", "pub2", "a1", "c1"]) expect({ to, mode: pair("d1", to).mode }).toEqual({ to, mode: "direct" });
    expect(report!.upnp).toContain("mapped 203.0.113.14:7495 to 10.0.4.2:7495 (UPnP)");
  });

  test("every ordered pair gets a mark, and every failed one says why", () => {
    expect(report!.pairs).toHaveLength(6 * 5);
    for (const result of report!.pairs) {
      expect(PATH_MODES).toContain(result.mode);
      if (result.mode === "failed") expect(result.reason.length).toBeGreaterThan(0);
    }
  });

  test("the lab adds no interface, route or firewall rule to the host's own namespace", () => {
    expect(hostDuring).toBe(hostBefore);
  });

  test("closing the lab kills every process it started and deletes every namespace it made", () => {
    expect(leftAfterClose).toEqual([]);
    expect(namespacesAfterClose).toEqual([]);
    expect(pids.length).toBeGreaterThan(4);
    expect(pids.filter(isRunning)).toEqual([]);
  });
});

test.skipIf(unavailable !== null)(`a namespace left by a lab whose process is gone is removed at the next start, with the processes still in it${skipped}`, async () => {
  const gone = Bun.spawn(["true"]);
  await gone.exited;
  const stale = `${NAMESPACE_PREFIX}${gone.pid}_1-leftover`;
  run(["ip", "netns", "add", stale]);
  const orphan = Bun.spawn(["ip", "netns", "exec", stale, "sleep", "30"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  try {
    await waitFor("the orphan to run in the namespace", () => run(["ip", "netns", "pids", stale]).trim() !== "", 5_000);
    expect(removeStaleRuns()).toContain(stale);
    expect(labNamespaces(stale)).toEqual([]);
    expect(await Promise.race([orphan.exited.then(() => orphan.signalCode), Bun.sleep(3_000).then(() => "still running")])).toBe("SIGKILL");
  } finally {
    orphan.kill("SIGKILL");
    await orphan.exited;
    if (labNamespaces(stale).length > 0) run(["ip", "netns", "del", stale]);
  }
});
