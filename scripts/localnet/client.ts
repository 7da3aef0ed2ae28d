// Runs `p2p client ... --json` the way a user would, and turns its reply into a value or one clear error line.

import type { Subprocess } from "bun";
import { ScriptError } from "./errors";

export interface ClientRunner {
  /** Runs `p2p client <args> --json` and parses what it prints. */
  json<T>(args: string[], timeoutMs?: number): Promise<T>;
  /** Kills client commands still running (on Ctrl-C). */
  killAll(): void;
}

export function clientRunner(executable: string[], env: Record<string, string>): ClientRunner {
  const running = new Set<Subprocess>();
  return {
    async json<T>(args: string[], timeoutMs = 60_000): Promise<T> {
      const proc = Bun.spawn([...executable, "client", ...args, "--json"], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      running.add(proc);
      const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      clearTimeout(timer);
      running.delete(proc);
      const command = `p2p client ${args.join(" ")}`;
      if (code !== 0) {
        // `error: ...` from the CLI; `[error] ...` from a logger.
        const reason = stderr.split("\n").find((line) => /^(\[error\]|error:)/.test(line))?.replace(/^(\[error\]|error:)\s*/, "");
        throw new ScriptError(`${command} failed: ${reason ?? (proc.signalCode ? `killed after ${timeoutMs} ms` : `exit ${code}`)}`);
      }
      try {
        return JSON.parse(stdout) as T;
      } catch {
        throw new ScriptError(`${command} printed no JSON: ${stdout.slice(0, 120)}`);
      }
    },
    killAll() {
      for (const proc of running) proc.kill("SIGKILL");
    },
  };
}
