// What `npm run vms` asks the nodes in the VMs (through `p2p client ... --json` run as the vagrant user), until their
// answers make one consistent ring (the check itself is src/testnet/vm-ring.ts, shared with its test).

import { type RingStatus, ringProblem } from "../../src/testnet/vm-ring";
import type { Vm } from "./vm";

/** A client command the way a user of the VM types it after `vagrant ssh` (login shell: P2P_HOME=/var/lib/p2p). */
export function clientCommand(args: string): string {
  return `runuser -u vagrant -- env P2P_HOME=/var/lib/p2p NO_COLOR=1 /usr/local/bin/p2p client ${args} --json`;
}

export async function clientJson<T>(vm: Vm, args: string, timeoutMs = 60_000): Promise<T> {
  const stdout = await vm.agent.run(clientCommand(args), timeoutMs);
  try {
    return JSON.parse(stdout) as T;
  } catch {
    throw new Error(`${vm.name}: p2p client ${args} printed no JSON: ${stdout.slice(0, 120)}`);
  }
}

/** Asks every VM's node for its status until they form one ring of exactly these nodes. */
export async function waitForRing(vms: Vm[], timeoutMs: number, say?: (line: string) => void): Promise<RingStatus[]> {
  const deadline = Date.now() + timeoutMs;
  let lastSaid = Date.now();
  let problem = "no answer yet";
  for (let attempt = 0; attempt < 1_000 && Date.now() < deadline; attempt++) {
    const statuses = await Promise.all(vms.map((vm) => clientJson<RingStatus>(vm, "status", 20_000).catch((error: Error) => error)));
    const failed = statuses.find((status): status is Error => status instanceof Error);
    problem = failed ? failed.message : (ringProblem(statuses as RingStatus[], vms.map((vm) => vm.spec.address)) ?? "");
    if (!problem) return statuses as RingStatus[];
    if (Date.now() - lastSaid > 30_000) {
      lastSaid = Date.now();
      say?.(`waiting for the ring: ${problem}`);
    }
    await Bun.sleep(1_000);
  }
  throw new Error(`no consistent ring of ${vms.map((vm) => vm.name).join(", ")} after ${timeoutMs / 1000} s: ${problem}`);
}
