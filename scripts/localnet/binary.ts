// Checks that the dist/p2p a script is about to start runs here: present, a Linux executable, built for this CPU.

import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { ScriptError } from "./errors";
import { commandPath } from "./render";

/** ELF e_machine values (offset 18, little-endian), as the Vagrantfile reads them, and Bun's names for them. */
const ELF_MACHINES: Record<number, string> = { 0x3e: "x64", 0xb7: "arm64" };

/**
 * Fails with one line, naming the fix, when `path` cannot run on this machine: otherwise the first spawn
 * would die with `ENOEXEC: unknown error, posix_spawn` (say, after `npm run build -- --target linux-arm64`
 * replaced it in an older version).
 */
export function checkBinary(path: string): void {
  const shown = commandPath(path);
  if (!existsSync(path)) throw new ScriptError(`${shown} is missing: build it first with npm run build`);
  if (process.platform !== "linux") return;
  const header = Buffer.alloc(20);
  const fd = openSync(path, "r");
  let read: number;
  try {
    read = readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (read < header.length || header.readUInt32BE(0) !== 0x7f454c46) {
    throw new ScriptError(`${shown} is not a Linux executable: rebuild it here with npm run build`);
  }
  const machine = header.readUInt16LE(18);
  const built = ELF_MACHINES[machine] ?? `ELF machine 0x${machine.toString(16)}`;
  if (built !== process.arch) throw new ScriptError(`${shown} is built for ${built} but this machine is ${process.arch}: rebuild it here with npm run build`);
}
