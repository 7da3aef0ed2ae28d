// The hole-punching lab: hosts behind two routers of each kind and a rendezvous on the public side; each pair punches `tries` times.

import type { Subprocess } from "bun";
import { join } from "node:path";
import { createLab, destroyLab, namespaceOf, newRunId } from "./natlab-netns";
import { type LabPlan, PUBLIC_V4_PREFIX } from "./natlab-plan";
import { hasExited } from "./processes";
import { stopPids } from "./pids";

/** The rendezvous's port on its public host. */
export const RENDEZVOUS_PORT = 7600;
/** A pair's two peers get this long per try (messages, the punch's window, the echo) before they are killed. */
const PER_TRY_LIMIT_MS = 15_000;
/** How long the rendezvous gets to listen. */
const RENDEZVOUS_START_MS = 10_000;

/**
 * Two port-preserving NATs (A, E), a symmetric NAT (B), two firewalls without NAT (C, F), one host behind each,
 * and the rendezvous on the public segment. Documentation ranges on the public side, as in the NAT lab.
 */
export function punchLabPlan(options: { resettingRouters?: boolean } = {}): LabPlan {
  const resetsUnsolicited = options.resettingRouters ?? false;
  return {
    routers: [
      { name: "a", kind: "masquerade", wan4: `${PUBLIC_V4_PREFIX}.11`, lanPrefix: "10.0.1", resetsUnsolicited },
      { name: "b", kind: "symmetric", wan4: `${PUBLIC_V4_PREFIX}.12`, lanPrefix: "10.0.2", resetsUnsolicited },
      { name: "c", kind: "firewall", wan4: `${PUBLIC_V4_PREFIX}.13`, lanPrefix: "198.51.100", resetsUnsolicited },
      { name: "e", kind: "masquerade", wan4: `${PUBLIC_V4_PREFIX}.15`, lanPrefix: "10.0.5", resetsUnsolicited },
      { name: "f", kind: "firewall", wan4: `${PUBLIC_V4_PREFIX}.16`, lanPrefix: "192.0.2", resetsUnsolicited },
    ],
    hosts: [
      { name: "rv", router: null, ipv4: `${PUBLIC_V4_PREFIX}.2`, ipv6: null },
      { name: "a1", router: "a", ipv4: "10.0.1.2", ipv6: null },
      { name: "b1", router: "b", ipv4: "10.0.2.2", ipv6: null },
      { name: "c1", router: "c", ipv4: "198.51.100.2", ipv6: null },
      { name: "e1", router: "e", ipv4: "10.0.5.2", ipv6: null },
      { name: "f1", router: "f", ipv4: "192.0.2.2", ipv6: null },
    ],
  };
}

/** One try of one side. */
export interface PunchTry {
  try: number;
  ok: boolean;
  /** From the try's start (rendezvous messages included) to the punched connection, or to the failure. */
  ms: number;
  rttMs?: number;
  error?: string;
}

export interface PunchPairResult {
  initiator: string;
  responder: string;
  /** The initiator's view of each try (a try counts when bytes moved both ways over the punched link). */
  tries: PunchTry[];
  /** The responder's, for the report. */
  responderTries: PunchTry[];
  /** Why the pair ran no (or not every) try: a peer crashed or was killed at its limit. */
  problem: string | null;
}

export interface PunchLabOptions {
  /** Ordered pairs of host names: the first initiates. */
  pairs: ReadonlyArray<readonly [string, string]>;
  tries: number;
  /** Routers answer unsolicited packets to themselves with a reset, as the lab's routers once did. */
  resettingRouters?: boolean;
  /** The bun executable and the repository root the peers run from. */
  bun: string;
  root: string;
  onSpawn?: (proc: Subprocess) => void;
  progress?: (line: string) => void;
}

/** Builds the punch lab, runs every pair, tears everything down (also on failure) and returns what each pair did. */
export async function runPunchLab(options: PunchLabOptions): Promise<PunchPairResult[]> {
  const runId = newRunId();
  const plan = punchLabPlan({ resettingRouters: options.resettingRouters });
  const spawned: Subprocess[] = [];
  const spawn = (host: string, argv: string[]) => {
    const proc = Bun.spawn(["ip", "netns", "exec", namespaceOf(runId, host), options.bun, ...argv], { cwd: options.root, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    spawned.push(proc);
    options.onSpawn?.(proc);
    return proc;
  };
  try {
    createLab(runId, plan);
    const rendezvousIp = plan.hosts.find((host) => host.name === "rv")!.ipv4!;
    const rendezvous = spawn("rv", [join("scripts", "lib", "punch-rendezvous.ts"), rendezvousIp, String(RENDEZVOUS_PORT)]);
    await waitForLine(rendezvous, "listening", RENDEZVOUS_START_MS);
    const results: PunchPairResult[] = [];
    for (const [initiator, responder] of options.pairs) {
      options.progress?.(`${initiator} <-> ${responder}: ${options.tries} tries`);
      const peer = (host: string, role: string) => spawn(host, [join("scripts", "lib", "punch-peer.ts"), `${rendezvousIp}:${RENDEZVOUS_PORT}`, `${initiator}-${responder}`, role, String(options.tries)]);
      const [first, second] = [peer(initiator, "initiator"), peer(responder, "responder")];
      const limitMs = PER_TRY_LIMIT_MS * options.tries;
      const [mine, theirs] = await Promise.all([collect(first, limitMs), collect(second, limitMs)]);
      results.push({ initiator, responder, tries: mine.tries, responderTries: theirs.tries, problem: mine.problem ?? theirs.problem });
    }
    return results;
  } finally {
    await stopPids(spawned.filter((proc) => !hasExited(proc)).map((proc) => proc.pid), 2_000);
    await Promise.all(spawned.map((proc) => proc.exited));
    destroyLab(runId);
  }
}

/** Reads a peer's JSON lines until it exits or its limit passes (then it is killed). */
async function collect(proc: Subprocess, limitMs: number): Promise<{ tries: PunchTry[]; problem: string | null }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const killed = new Promise<"killed">((resolve) => (timer = setTimeout(() => (proc.kill("SIGKILL"), resolve("killed")), limitMs)));
  const [stdout, stderr, outcome] = await Promise.all([new Response(proc.stdout as ReadableStream).text(), new Response(proc.stderr as ReadableStream).text(), Promise.race([proc.exited, killed])]);
  clearTimeout(timer);
  const tries = stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as PunchTry);
  const problem = outcome === "killed" ? `killed after ${limitMs} ms` : outcome !== 0 ? `exited ${outcome}: ${stderr.trim().split("\n").at(-1) ?? ""}` : null;
  return { tries, problem };
}

/** Waits until the process writes `text` to stderr (its start-up line). */
async function waitForLine(proc: Subprocess, text: string, timeoutMs: number): Promise<void> {
  const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let seen = "";
  const deadline = performance.now() + timeoutMs;
  while (!seen.includes(text)) {
    const left = deadline - performance.now();
    if (left <= 0 || hasExited(proc)) throw new Error(`the rendezvous did not start: ${seen.trim() || "no output"}`);
    const chunk = await Promise.race([reader.read(), Bun.sleep(left).then(() => null)]);
    if (!chunk || chunk.done) continue;
    seen += decoder.decode(chunk.value);
  }
  // Keep reading (and dropping) what it writes later, so a full pipe never blocks it.
  void (async () => {
    for (let read = await reader.read(); !read.done; read = await reader.read());
  })().catch(() => {});
}
