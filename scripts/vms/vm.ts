// One VM of `npm run vms`: QEMU with software emulation (KVM does not run stock kernels on the machines this was built
// on), its own qcow2 overlay on the shared image (so a power-off keeps its disk), a tap in the run's namespace.

import type { Subprocess } from "bun";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { GuestAgent } from "./agent";
import type { BootImage } from "./image";
import type { VmSpec } from "../../src/testnet/vm-machines";
import type { PrivateNetwork } from "./network";
import { PIDS_FILE } from "./network";
import { run } from "./shell";

export interface VmOptions {
  image: BootImage;
  /** ext4 image with dist/p2p, install.sh and the units, attached read-only to every VM as /dev/vdb. */
  payload: string;
  runDir: string;
  network: PrivateNetwork;
  /** QEMU CPU model: Nehalem is the oldest with what p2p needs (SSE4.2, POPCNT) and has no AVX. */
  cpu: string;
  memoryMiB: number;
  /** Every QEMU started goes here first, so Ctrl-C and failures kill it by pid. */
  track: (proc: Subprocess) => void;
}

export class Vm {
  readonly agent: GuestAgent;
  readonly tap: string;
  private proc: Subprocess | null = null;

  constructor(
    readonly spec: VmSpec,
    private readonly options: VmOptions,
  ) {
    this.agent = new GuestAgent(spec.name, join(options.runDir, `${spec.name}.qga`));
    this.tap = `tap-${spec.name}`;
  }

  get name(): string {
    return this.spec.name;
  }

  /** Its QEMU's pid, or null while powered off. */
  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  get overlay(): string {
    return join(this.options.runDir, `${this.spec.name}.qcow2`);
  }

  get serialLog(): string {
    return join(this.options.runDir, `${this.spec.name}.log`);
  }

  /** Its disk: a copy-on-write overlay, a few MB, on the read-only shared image. */
  async createDisk(): Promise<void> {
    await run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", this.options.image.rootfs, this.overlay]);
  }

  /** Boots it (again, after a power-off: same disk, same tap). */
  start(): void {
    const { image, payload, network, cpu, memoryMiB, runDir } = this.options;
    const { name, address, index } = this.spec;
    const kernelArgs = [
      "root=/dev/vda",
      "rw",
      "console=ttyS0",
      "loglevel=4",
      "mitigations=off",
      "net.ifnames=0",
      `ip=${address}:::255.255.255.0:${name}:eth0:off`,
      `systemd.hostname=${name}`,
    ];
    const mac = `52:54:00:56:00:${index.toString(16).padStart(2, "0")}`;
    const qemu = [
      "qemu-system-x86_64",
      "-name",
      `p2p-${name},process=p2p-vm-${name}`,
      "-nodefaults",
      "-no-user-config",
      "-no-reboot",
      "-display",
      "none",
      // Without tb-size each VM's translation cache makes it ~930 MB of RSS; with 128 MB, ~700 MB.
      "-accel",
      "tcg,tb-size=128",
      "-cpu",
      cpu,
      "-smp",
      "1",
      "-m",
      String(memoryMiB),
      "-kernel",
      image.kernel,
      "-initrd",
      image.initrd,
      "-append",
      kernelArgs.join(" "),
      "-drive",
      `file=${this.overlay},if=virtio,format=qcow2`,
      "-drive",
      `file=${payload},if=virtio,format=raw,readonly=on`,
      "-netdev",
      `tap,id=n0,ifname=${this.tap},script=no,downscript=no`,
      "-device",
      `virtio-net-pci,netdev=n0,mac=${mac}`,
      "-chardev",
      `socket,id=qga0,path=${join(runDir, `${name}.qga`)},server=on,wait=off`,
      "-device",
      "virtio-serial-pci",
      "-device",
      "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
      "-serial",
      `file:${this.serialLog}`,
    ];
    const proc = Bun.spawn(network.exec(qemu), { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    this.options.track(proc);
    appendFileSync(join(runDir, PIDS_FILE), `${proc.pid}\n`);
    this.proc = proc;
  }

  /** Pulls the plug: SIGKILL to its QEMU, no shutdown inside the guest. */
  async powerOff(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    proc.kill("SIGKILL");
    await proc.exited;
    this.proc = null;
  }

  /** Null while running; otherwise why QEMU stopped (with its stderr), for a clear error. */
  async exitReason(): Promise<string | null> {
    const proc = this.proc;
    if (!proc || proc.exitCode === null) return null;
    const stderr = await new Response(proc.stderr as ReadableStream).text();
    return `QEMU for ${this.name} exited (${proc.exitCode}): ${stderr.trim().split("\n").slice(-2).join(" | ") || "no message"}; serial log: ${this.serialLog}`;
  }

  /** Waits until its guest agent answers, i.e. the VM has booted; fails at once if QEMU died. */
  async waitUntilBooted(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; attempt < 10_000 && Date.now() < deadline; attempt++) {
      const reason = await this.exitReason();
      if (reason) throw new Error(reason);
      if (await this.agent.answers()) return;
      await Bun.sleep(1_000);
    }
    throw new Error(`${this.name} did not boot in ${timeoutMs / 1000} s (its guest agent never answered); serial log: ${this.serialLog}`);
  }
}
