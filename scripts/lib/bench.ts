// What the benchmark scripts share: the built binary, testnets torn down on Ctrl-C, client calls, files and figures.

import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestnet, type Testnet, type TestnetNode } from "../../src/testnet";

const root = join(import.meta.dir, "..", "..");

/**
 * Builds dist/p2p (benchmarks measure the binary users run) and returns its path; exits on failure.
 * P2P_BUILD_TARGET=linux-x64-baseline (any `npm run build -- --target` value) measures that build, as dist/p2p-<target>.
 */
export function buildBinary(): string {
  const target = process.env.P2P_BUILD_TARGET;
  const outfile = join(root, "dist", target ? `p2p-${target}` : "p2p");
  const args = target ? ["--target", target, "--outfile", outfile] : [];
  if (Bun.spawnSync([process.execPath, join(root, "scripts", "build.ts"), ...args], { stdout: "ignore", stderr: "inherit" }).exitCode !== 0) process.exit(1);
  return outfile;
}

/**
 * A work folder and the testnets of one benchmark: Ctrl-C or a timeout must not leave gigabytes
 * of test files or node processes behind.
 */
export function benchWorkspace(binary: string) {
  const work = mkdtempSync(join(tmpdir(), "p2p-bench-"));
  const active = new Set<Testnet>();
  const cleanup = async () => {
    await Promise.all([...active].map((net) => net.close()));
    rmSync(work, { recursive: true, force: true });
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => void cleanup().finally(() => process.exit(130)));
  }
  return {
    work,
    cleanup,
    /** Runs `body` on a consistent testnet of `nodes` dist/p2p nodes, closed afterwards whatever happens; `key`: a private one. */
    async withNet<T>(nodes: number, nodeArgs: string[], body: (net: Testnet) => Promise<T>, options: { key?: boolean } = {}): Promise<T> {
      const net = await createTestnet({ nodes, executable: [binary], nodeArgs, key: options.key });
      active.add(net);
      try {
        await net.waitForConsistentRing(60_000);
        return await body(net);
      } finally {
        active.delete(net);
        await net.close();
      }
    },
    /** `p2p client <args> --json` on `node`; resolves to the parsed output, rejects with its stderr. */
    async client<T>(net: Testnet, node: TestnetNode, args: string[]): Promise<T> {
      const proc = Bun.spawn([binary, "client", ...args, "--json", "--node", node.ip], { env: net.env, stdout: "pipe", stderr: "pipe" });
      const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      if (code !== 0) throw new Error(`p2p client ${args.join(" ")} failed: ${err.trim()}`);
      return JSON.parse(out) as T;
    },
  };
}

/** A file of `mib` MiB of random bytes, written 16 MiB at a time. */
export function writeRandomFile(path: string, mib: number): void {
  const fd = openSync(path, "w");
  const block = randomBytes(16 * 1024 * 1024);
  try {
    for (let written = 0; written < mib; written += 16) {
      block[0] = written & 0xff; // no two blocks alike
      writeSync(fd, block, 0, Math.min(16, mib - written) * 1024 * 1024);
    }
  } finally {
    closeSync(fd);
  }
}

/** Whether two files have the same SHA-256. */
export function sameContent(a: string, b: string): boolean {
  const hash = (path: string) => Bun.spawnSync(["sha256sum", path]).stdout.toString().split(" ")[0];
  return hash(a) === hash(b);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Peak RSS (VmHWM) of a process in MB. */
export function peakRss(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Resident memory of a process now, in MB: all of it, and the private (anonymous) part without the executable's mapped pages. */
export function residentMemory(pid: number): { rssMb: number; anonMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb("VmRSS") / 1024, anonMb: kb("RssAnon") / 1024 };
}

/** Samples `pid`'s resident memory every `everyMs` until `stop()`, which returns the peaks seen. */
export function sampleMemory(pid: number, everyMs = 20): { stop(): { rssMb: number; anonMb: number } } {
  const peak = { rssMb: 0, anonMb: 0 };
  const sample = () => {
    try {
      const now = residentMemory(pid);
      peak.rssMb = Math.max(peak.rssMb, now.rssMb);
      peak.anonMb = Math.max(peak.anonMb, now.anonMb);
    } catch {
      // The process is gone: the peaks so far stand.
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/**
 * Seconds for `curl -o out` to fetch `file` over loopback from a Bun.serve static server (the transfer
 * baseline), with an fsync of `out` after it when `fsync`, since p2p fsyncs every finished download.
 */
export async function curlSeconds(file: string, out: string, options: { fsync?: boolean } = {}): Promise<number> {
  const hostname = "127.0.0.1";
  const server = Bun.serve({ hostname, port: 0, fetch: () => new Response(Bun.file(file)) });
  try {
    const started = performance.now();
    // Async: this process is also the server, so it must keep serving while curl runs.
    const curl = Bun.spawn(["curl", "-sS", "--max-time", "600", "-o", out, `http://${hostname}:${server.port}/source.bin`], { stderr: "pipe" });
    if ((await curl.exited) !== 0) throw new Error(`curl failed: ${await new Response(curl.stderr).text()}`);
    if (options.fsync) {
      const handle = await open(out, "r+");
      await handle.sync();
      await handle.close();
    }
    return (performance.now() - started) / 1000;
  } finally {
    server.stop(true);
  }
}

/** User + system CPU time of a process so far, in milliseconds (Linux clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export function mbps(bytesPerSecond: number): string {
  return (bytesPerSecond / 1e6).toFixed(0).padStart(5);
}
