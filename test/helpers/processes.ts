// Real child processes for tests: spawned from the CLI source, their stderr captured, every one killed in teardown.

import type { Subprocess } from "bun";
import { join } from "node:path";

export const REPO_ROOT = join(import.meta.dir, "..", "..");
export const CLI_ENTRY = join(REPO_ROOT, "src", "cli.ts");

export interface ManagedProcess {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything the process wrote so far. */
  stdout(): string;
  stderr(): string;
  /** Waits for a pattern on stderr; rejects with the output so far when the deadline passes or the process exits. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

const running = new Set<ManagedProcess>();

/** Starts `p2p <args>` from source (or a given executable) with its own environment additions. */
export function startP2P(args: string[], options: { env?: Record<string, string>; executable?: string[] } = {}): ManagedProcess {
  const command = options.executable ?? [process.execPath, CLI_ENTRY];
  const proc = Bun.spawn([...command, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1", P2P_LOG_LEVEL: "info", ...options.env },
  });
  let out = "";
  let err = "";
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((wake) => wake());
  void collect(proc.stdout, (text) => {
    out += text;
    notify();
  });
  void collect(proc.stderr, (text) => {
    err += text;
    notify();
  });
  void proc.exited.then(notify);

  const managed: ManagedProcess = {
    proc,
    stdout: () => out,
    stderr: () => err,
    waitForStderr(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const deadline = setTimeout(() => finish(new Error(`timed out waiting for ${pattern} on stderr of ${args.join(" ")}:\n${err}`)), timeoutMs);
        const check = () => {
          const match = err.match(pattern);
          if (match) finish(null, match);
          else if (proc.exitCode !== null || proc.signalCode !== null) {
            finish(new Error(`process exited (${proc.exitCode ?? proc.signalCode}) before ${pattern}:\n${err}`));
          }
        };
        const finish = (error: Error | null, match?: RegExpMatchArray) => {
          clearTimeout(deadline);
          waiters.delete(check);
          if (error) reject(error);
          else resolve(match!);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const code = await proc.exited;
      running.delete(managed);
      return code;
    },
  };
  running.add(managed);
  return managed;
}

/** Kills every process a test started and still runs; call from afterEach/afterAll. */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...running].map((managed) => managed.stop("SIGKILL")));
}

/** Runs `p2p <args>` to completion and returns its exit code and output. */
export async function runP2P(
  args: string[],
  options: { env?: Record<string, string>; executable?: string[]; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const managed = startP2P(args, options);
  const timer = setTimeout(() => managed.proc.kill("SIGKILL"), options.timeoutMs ?? 15_000);
  const code = await managed.proc.exited;
  clearTimeout(timer);
  await Bun.sleep(0);
  running.delete(managed);
  return { code, stdout: managed.stdout(), stderr: managed.stderr() };
}

async function collect(stream: ReadableStream<Uint8Array>, sink: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink(decoder.decode(chunk, { stream: true }));
}
