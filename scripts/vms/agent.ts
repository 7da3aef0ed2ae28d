// The host's only way into a VM of `npm run vms`: the QEMU guest agent on a virtio serial port, reached through a Unix
// socket QEMU creates on the host. No network from the host to the VMs is needed (and none exists).

import type { Socket } from "bun";

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How often to ask whether a command has finished. */
const EXEC_POLL_MS = 250;
/** One request's answer; a VM still booting does not answer at all, so this is short and the caller retries. */
const REQUEST_TIMEOUT_MS = 5_000;

export class GuestAgent {
  constructor(
    readonly vmName: string,
    private readonly socketPath: string,
  ) {}

  /** True once the agent inside the VM answers (the VM has booted far enough to run commands). */
  async answers(): Promise<boolean> {
    try {
      await this.request({ execute: "guest-ping" }, 2_000);
      return true;
    } catch {
      return false;
    }
  }

  /** Runs `sh -c script` as root in the VM and waits for it; throws if it outlives `timeoutMs`. */
  async exec(script: string, timeoutMs = 60_000): Promise<ExecResult> {
    const deadline = Date.now() + timeoutMs;
    const started = (await this.request({
      execute: "guest-exec",
      arguments: { path: "/bin/sh", arg: ["-c", script], "capture-output": true },
    })) as { pid: number };
    for (let attempt = 0; attempt < 100_000 && Date.now() < deadline; attempt++) {
      const status = (await this.request({ execute: "guest-exec-status", arguments: { pid: started.pid } })) as {
        exited: boolean;
        exitcode?: number;
        signal?: number;
        "out-data"?: string;
        "err-data"?: string;
      };
      if (status.exited) {
        return {
          code: status.exitcode ?? 128 + (status.signal ?? 0),
          stdout: Buffer.from(status["out-data"] ?? "", "base64").toString("utf8"),
          stderr: Buffer.from(status["err-data"] ?? "", "base64").toString("utf8"),
        };
      }
      await Bun.sleep(EXEC_POLL_MS);
    }
    throw new Error(`${this.vmName}: \`${script.slice(0, 80)}\` still running after ${timeoutMs} ms`);
  }

  /** Like exec, but a non-zero exit is an error naming the VM and the command's last line of stderr. */
  async run(script: string, timeoutMs = 60_000): Promise<string> {
    const result = await this.exec(script, timeoutMs);
    if (result.code !== 0) {
      const reason = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-2).join(" | ");
      throw new Error(`${this.vmName}: \`${script.slice(0, 80)}\` failed (exit ${result.code}): ${reason}`);
    }
    return result.stdout;
  }

  /**
   * One request on a fresh connection. A byte 0xFF and guest-sync-delimited first: they reset the agent's parser and
   * skip any answer left over from an earlier connection that gave up waiting.
   */
  private request(message: object, timeoutMs = REQUEST_TIMEOUT_MS): Promise<unknown> {
    const syncId = Math.floor(Math.random() * 2 ** 31);
    return new Promise((resolve, reject) => {
      let socket: Socket | undefined;
      let buffer = "";
      let synced = false;
      let done = false;
      const finish = (error: Error | null, value?: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket?.end();
        if (error) reject(error);
        else resolve(value);
      };
      const timer = setTimeout(() => finish(new Error(`${this.vmName}: the guest agent did not answer in ${timeoutMs} ms`)), timeoutMs);
      const send = (bytes: Uint8Array) => {
        // Requests are a few hundred bytes: a short write means the connection is going away.
        if (socket!.write(bytes) !== bytes.length) finish(new Error(`${this.vmName}: could not write to the guest agent`));
      };
      Bun.connect({
        unix: this.socketPath,
        socket: {
          open: (opened) => {
            socket = opened;
            const sync = JSON.stringify({ execute: "guest-sync-delimited", arguments: { id: syncId } });
            send(Buffer.concat([Buffer.from([0xff]), Buffer.from(`${sync}\n`)]));
          },
          data: (_socket, chunk) => {
            buffer += chunk.toString("latin1");
            for (let newline = buffer.indexOf("\n"); newline >= 0; newline = buffer.indexOf("\n")) {
              const line = buffer.slice(0, newline).replaceAll("\xff", "").trim();
              buffer = buffer.slice(newline + 1);
              if (!line) continue;
              let reply: { return?: unknown; error?: { desc?: string } };
              try {
                reply = JSON.parse(line);
              } catch {
                continue;
              }
              if (!synced) {
                if (reply.return === syncId) {
                  synced = true;
                  send(Buffer.from(`${JSON.stringify(message)}\n`));
                }
                continue;
              }
              if (reply.error) finish(new Error(`${this.vmName}: guest agent: ${reply.error.desc ?? JSON.stringify(reply.error)}`));
              else finish(null, reply.return);
            }
          },
          close: () => finish(new Error(`${this.vmName}: the guest agent closed the connection`)),
          error: (_socket, error) => finish(error),
          connectError: (_socket, error) => finish(error),
        },
      }).catch((error: Error) => finish(error));
    });
  }
}
