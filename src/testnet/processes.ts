// The processes of one testnet: spawned with its environment, their stderr kept (in files when detached), killed together.

import type { Subprocess } from "bun";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { P2PError } from "../protocol/errors";

export interface SpawnSettings {
  /** The command that runs p2p. */
  executable: string[];
  env: Record<string, string>;
  home: string;
  /** Each process in its own session, logging to <home>/logs/<role>.log (see TestnetOptions.detached). */
  detached: boolean;
  onSpawn?: (role: string, proc: Subprocess) => void;
}

export interface Spawned {
  proc: Subprocess;
  /** What the process wrote to stderr so far. */
  log: () => string;
}

export class TestnetProcesses {
  private readonly all: Subprocess[] = [];
  private readonly settings: SpawnSettings;

  constructor(settings: SpawnSettings) {
    this.settings = settings;
  }

  spawn(role: string, args: string[], extraEnv?: Record<string, string>): Spawned {
    const { executable, env, home, detached } = this.settings;
    const logFile = detached ? join(home, "logs", `${role}.log`) : null;
    if (logFile) mkdirSync(join(home, "logs"), { recursive: true });
    const proc = Bun.spawn([...executable, ...args], {
      env: extraEnv ? { ...env, ...extraEnv } : env,
      stdin: "ignore",
      stdout: "ignore",
      stderr: logFile ? Bun.file(logFile) : "pipe",
      detached,
    });
    this.all.push(proc);
    this.settings.onSpawn?.(role, proc);
    const log = logFile ? () => readTextOrEmpty(logFile) : captureText(proc.stderr as ReadableStream<Uint8Array>);
    return { proc, log };
  }

  /** SIGKILLs every process still running and waits until all have exited. */
  async killAll(): Promise<void> {
    for (const proc of this.all) if (!hasExited(proc)) proc.kill("SIGKILL");
    await Promise.all(this.all.map((proc) => proc.exited));
  }
}

/** A process killed by a signal has no exit code, only a signal code. */
export function hasExited(proc: Subprocess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

/** The shortest pause between two checks of a poll. */
const POLL_PAUSE_MS = 100;
/**
 * A pause at least this many times as long as the check before it: polling the STATUS of 250 nodes every
 * 100 ms kept them busy answering while their ring needed the two cores to settle (it did not within two minutes).
 */
export const POLL_PAUSE_PER_CHECK_TIME = 4;

/** Polls `check` until it returns true; errors from `check` count as "not yet" unless they are P2PError ERROR. */
export async function waitUntil(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (let attempt = 0; attempt < 100_000 && Date.now() < deadline; attempt++) {
    const checkedAt = Date.now();
    try {
      if (await check()) return;
    } catch (error) {
      if (error instanceof P2PError && error.code === "ERROR") throw error;
      last = error;
    }
    const pause = Math.max(POLL_PAUSE_MS, POLL_PAUSE_PER_CHECK_TIME * (Date.now() - checkedAt));
    await Bun.sleep(Math.min(pause, Math.max(0, deadline - Date.now())));
  }
  throw new P2PError("TIMEOUT", `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
}

function readTextOrEmpty(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function captureText(stream: ReadableStream<Uint8Array>): () => string {
  let text = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  })();
  return () => text;
}
