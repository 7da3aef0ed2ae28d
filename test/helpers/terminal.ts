// A command on a real pseudo-terminal (util-linux `script`): keys typed in, the screen read back without colours or cursor moves.

import type { Subprocess } from "bun";
import { waitFor } from "./wait";

export const ENTER = "\r";
export const DOWN = "\x1b[B";
export const CTRL_C = "\x03";

export interface Terminal {
  readonly proc: Subprocess<"pipe", "pipe", "pipe">;
  /** What appeared since the last match. */
  screen(): string;
  /** Waits for `text` to appear, drops the screen up to it, then types `keys`. */
  when(text: string | RegExp, keys: string, timeoutMs?: number): Promise<void>;
}

/** Runs `command` on a pseudo-terminal in `cwd`; killed after 30 s at the latest. */
export function onTerminal(command: string[], cwd: string, env: Record<string, string>): Terminal {
  const line = command.map((word) => `'${word.replace(/'/g, "'\\''")}'`).join(" ");
  // A pseudo-terminal starts 0 columns wide: give it a size, or every character wraps onto a line of its own.
  const proc = Bun.spawn(["script", "-qefc", `stty cols 120 rows 40; exec ${line}`, "/dev/null"], {
    cwd,
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...env, TERM: "xterm", COLUMNS: "120", LINES: "40" },
  });
  let screen = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) screen += decoder.decode(chunk, { stream: true }).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
  })();
  const killer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  void proc.exited.then(() => clearTimeout(killer));
  return {
    proc,
    screen: () => screen,
    /** Waits for `text` to appear after what was seen so far, then types `keys`. */
    async when(text: string | RegExp, keys: string, timeoutMs = 15_000) {
      await waitFor(`'${text}' on the terminal`, () => (typeof text === "string" ? screen.includes(text) : text.test(screen)), timeoutMs).catch((error) => {
        throw new Error(`${(error as Error).message}; the screen shows: ${JSON.stringify(screen.slice(-2000))}`);
      });
      // Keep what came after the match: the next prompt may already be on screen.
      const match = typeof text === "string" ? { index: screen.indexOf(text), length: text.length } : { index: screen.search(text), length: screen.match(text)![0].length };
      screen = screen.slice(match.index + match.length);
      proc.stdin.write(keys);
      proc.stdin.flush();
    },
  };
}

