// Runs the repository's scripts (demo, cluster) as a user would, and keeps track of the pids they report so a failed
// test can still stop them.

import { join } from "node:path";
import { belongsTo } from "../../src/testnet/pids";
import { REPO_ROOT } from "../helpers/processes";
import { loopbackAddress } from "../helpers/wait";

export interface ScriptRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `bun scripts/<args>` from the repository root, killed at the deadline. */
export async function runScript(args: string[], options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<ScriptRun> {
  const proc = Bun.spawn([process.execPath, join("scripts", args[0]!), ...args.slice(1)], {
    cwd: REPO_ROOT,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1", ...options.env },
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** A loopback /24 of its own (127.64-254.x): never the demo's 127.0.0, nor another test's, in practice. */
export function testSubnet(): string {
  return loopbackAddress().split(".").slice(0, 3).join(".");
}

export interface ReportedProcess {
  address: string;
  pid: number;
}

/** The `<address>  pid <n>` rows the demo and cluster print for every process they start. */
export function reportedProcesses(stdout: string): ReportedProcess[] {
  return [...stdout.matchAll(/(127\.\d+\.\d+\.\d+:\d+)\s+pid (\d+)/g)].map((match) => ({ address: match[1]!, pid: Number(match[2]) }));
}

/** The `P2P_HOME <path>` or `export P2P_HOME=<path>` a script printed. */
export function reportedHome(stdout: string): string | null {
  return /P2P_HOME[ =](\S+)/.exec(stdout)?.[1] ?? null;
}

/** Teardown for a failed test: SIGKILL reported processes that are still the script's (checked by P2P_HOME). */
export function killLeftovers(stdout: string): void {
  const home = reportedHome(stdout);
  if (!home) return;
  for (const { address, pid } of reportedProcesses(stdout)) {
    if (belongsTo(pid, home, address)) process.kill(pid, "SIGKILL");
  }
}
