// Running the host's tools (ip, debootstrap, qemu-img, mkfs) from `npm run vms`: bounded in time, failing with their stderr.

export interface RunOptions {
  /** SIGKILL after this long (default 30 s): a stuck tool must not hang the run. */
  timeoutMs?: number;
}

/** Runs a command to completion; throws one line naming the command and the end of its stderr when it fails. */
export async function run(command: string[], options: RunOptions = {}): Promise<string> {
  const proc = Bun.spawn(command, { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  if (code !== 0) {
    const detail = (stderr.trim() || stdout.trim()).split("\n").slice(-3).join(" | ");
    throw new Error(`\`${command.join(" ")}\` failed (exit ${code ?? proc.signalCode}): ${detail}`);
  }
  return stdout;
}
