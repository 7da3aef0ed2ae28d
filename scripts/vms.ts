// `npm run vms`: six Debian bookworm VMs under QEMU on a private network inside a network namespace of their own,
// provisioned with the Vagrantfile's install.sh and units, then checked: ring, a file across VMs, a hard power-off,
// a reboot, a kill -9. Everything it starts is torn down on success, failure and Ctrl-C. Needs root (namespaces, taps).
//
// npm run vms [-- --cpu MODEL]      (as root)

import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeNetworkKey } from "../src/protocol/network-key";
import { ScriptError, flagError } from "./localnet/errors";
import { Lifecycle } from "./localnet/lifecycle";
import { bootImage, cacheDir } from "./vms/image";
import { PrivateNetwork, removeStaleRuns, runDirectory } from "./vms/network";
import type { RingStatus } from "../src/testnet/vm-ring";
import { clientJson, waitForRing } from "./vms/ring";
import { run } from "./vms/shell";
import { DNS_ADDRESS, MACHINES } from "../src/testnet/vm-machines";
import { Vm } from "./vms/vm";

const USAGE = `usage: npm run vms [-- --cpu MODEL] [--key]

  --cpu MODEL   QEMU CPU model of the VMs (default Nehalem: SSE4.2, no AVX). --cpu qemu64 shows install.sh refusing a CPU
                p2p cannot run on.
  --key         a private network: a new network key (p2p keygen) on every VM, as P2P_KEY_FILE does for vagrant up`;

const ROOT = join(import.meta.dir, "..");
const BINARY = join(ROOT, "dist", "p2p");
const TEMPLATES = join(ROOT, "scripts", "vagrant");
const MEMORY_MIB = 512;
/** Host packages, from Debian's archive. */
const APT_PACKAGES = ["qemu-system-x86", "qemu-utils", "debootstrap"];
const TOOLS = ["qemu-system-x86_64", "qemu-img", "debootstrap", "mkfs.ext4", "ip", "chroot"];

/** Six VMs booting at once on two emulated cores take ~3 minutes; a loaded machine gets room. */
const BOOT_TIMEOUT_MS = 420_000;
const RING_TIMEOUT_MS = 180_000;
const SHARED_FILE = "vm-hello.bin";
const SHARED_BYTES = 1024 * 1024;

const life = new Lifecycle("npm run vms");
const timings: [string, number][] = [];
const runStart = performance.now();

function say(line: string): void {
  const elapsed = ((performance.now() - runStart) / 1000).toFixed(0).padStart(4);
  console.log(`[${elapsed} s] ${line}`);
}

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const value = await work();
  timings.push([label, performance.now() - started]);
  life.checkpoint();
  return value;
}

function options(): { cpu: string; key: boolean } {
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      options: { cpu: { type: "string", default: "Nehalem" }, key: { type: "boolean", default: false }, help: { type: "boolean", default: false } },
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    if (!/^[A-Za-z0-9_.,+=-]+$/.test(values.cpu)) throw new ScriptError(`--cpu: not a QEMU CPU model: ${values.cpu}`);
    return { cpu: values.cpu, key: values.key };
  } catch (error) {
    throw error instanceof ScriptError ? error : flagError(error);
  }
}

/** The tools, installed from Debian's archive when missing (we are root anyway), or the exact command to run. */
async function ensureTools(): Promise<void> {
  const missing = () => TOOLS.filter((tool) => !Bun.which(tool, { PATH: `${process.env.PATH}:/usr/sbin:/sbin` }));
  if (missing().length === 0) return;
  const install = ["apt-get", "install", "-y", "--no-install-recommends", ...APT_PACKAGES];
  say(`missing ${missing().join(", ")}: running ${install.join(" ")}`);
  try {
    await run(install, { timeoutMs: 300_000 }).catch(async () => {
      await run(["apt-get", "update"], { timeoutMs: 300_000 });
      return run(install, { timeoutMs: 300_000 });
    });
  } catch (error) {
    throw new ScriptError(`could not install the tools (${(error as Error).message}); run: apt-get update && ${install.join(" ")}`);
  }
  if (missing().length > 0) throw new ScriptError(`still missing ${missing().join(", ")}; run: ${install.join(" ")}`);
}

/** dist/p2p, install.sh and the two units on a small read-only disk: one copy for six VMs (the synced-folder idea). */
async function buildPayload(runDir: string, withKey: boolean): Promise<string> {
  const staging = join(runDir, "payload");
  mkdirSync(staging);
  cpSync(BINARY, join(staging, "p2p"));
  if (withKey) writeNetworkKey(join(staging, "network.key"));
  for (const file of ["install.sh", "p2p-dns.service", "p2p-node.service"]) cpSync(join(TEMPLATES, file), join(staging, file));
  const image = join(runDir, "payload.img");
  const sizeMiB = Math.ceil(statSync(BINARY).size / 1024 / 1024) + 32;
  await run(["truncate", "-s", `${sizeMiB}M`, image]);
  await run(["mkfs.ext4", "-q", "-F", "-L", "p2p-payload", "-d", staging, image], { timeoutMs: 120_000 });
  rmSync(staging, { recursive: true, force: true });
  return image;
}

/**
 * What `vagrant up` does for each machine, in the same order: the file provisioner copies dist/p2p and the unit to /tmp,
 * the shell provisioner runs install.sh as root with the role, the address and the DNS.
 */
function provisionScript(vm: Vm): string {
  const role = vm.name === "dns" ? "dns" : "node";
  return [
    "set -e",
    "mount -o ro /dev/vdb /mnt/p2p",
    "cp /mnt/p2p/p2p /tmp/p2p",
    `cp /mnt/p2p/p2p-${role}.service /tmp/p2p-${role}.service`,
    "cp /mnt/p2p/install.sh /tmp/vagrant-shell",
    // As the Vagrantfile's P2P_KEY_FILE does: the key where install.sh looks for it.
    "if [ -f /mnt/p2p/network.key ]; then cp /mnt/p2p/network.key /tmp/p2p-network.key; fi",
    "umount /mnt/p2p",
    `sh /tmp/vagrant-shell ${role} ${vm.spec.address} ${DNS_ADDRESS}`,
    // The power-off below pulls the plug: what install.sh wrote must be on the disk by then.
    "sync",
  ].join("\n");
}

async function mainPid(vm: Vm): Promise<number> {
  return Number((await vm.agent.run("systemctl show -p MainPID --value p2p-node")).trim());
}

async function main(): Promise<void> {
  const { cpu, key } = options();
  if (process.getuid?.() !== 0) throw new ScriptError("needs root (network namespace, taps, debootstrap): run it with sudo");
  if (!existsSync(BINARY)) throw new ScriptError("dist/p2p is missing: run `npm install && npm run build` first");
  const elf = readFileSync(BINARY).subarray(0, 20);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf.readUInt16LE(18) !== 0x3e) {
    throw new ScriptError("dist/p2p is not an x86-64 Linux executable: run `npm run build -- --target linux-x64`");
  }
  await ensureTools();
  const stale = await removeStaleRuns();
  if (stale.length > 0) say(`removed what an earlier run left: ${stale.join(", ")}`);

  const image = await timed("image (cached after the first run)", () => bootImage(say));

  const runDir = runDirectory();
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  const network = new PrivateNetwork();
  let keepLogs = true;
  life.onStop(async () => {
    // QEMU is gone by now (the lifecycle SIGKILLs every tracked pid first); the namespace takes the bridge and taps.
    await network.destroy();
    if (keepLogs) {
      const kept = join(cacheDir(), "last-failed-run");
      rmSync(kept, { recursive: true, force: true });
      mkdirSync(kept, { recursive: true });
      for (const spec of MACHINES) {
        const log = join(runDir, `${spec.name}.log`);
        if (existsSync(log)) cpSync(log, join(kept, `${spec.name}.log`));
      }
      console.error(`serial logs of the VMs kept in ${kept}`);
    }
    rmSync(runDir, { recursive: true, force: true });
  });

  const payload = await timed("payload disk (dist/p2p, install.sh, units)", () => buildPayload(runDir, key));
  const vms = MACHINES.map(
    (spec) => new Vm(spec, { image, payload, runDir, network, cpu, memoryMiB: MEMORY_MIB, track: (proc) => life.track(proc) }),
  );
  const byName = (name: string) => vms.find((vm) => vm.name === name)!;
  await timed("namespace, bridge, 6 taps, 6 overlays", async () => {
    await network.create(vms.map((vm) => vm.tap));
    await Promise.all(vms.map((vm) => vm.createDisk()));
  });
  say(`namespace ${network.namespace}: bridge br0, taps ${vms.map((vm) => vm.tap).join(" ")}; CPU model ${cpu}`);

  for (const vm of vms) vm.start();
  say(`booting ${vms.length} VMs (QEMU pids ${vms.map((vm) => `${vm.name}:${vm.pid}`).join(" ")})`);
  await timed("boot: all 6 guest agents answer", () =>
    Promise.all(
      vms.map(async (vm) => {
        await vm.waitUntilBooted(BOOT_TIMEOUT_MS);
        say(`${vm.name} booted`);
      }),
    ),
  );

  await timed("provision: install.sh on all 6", () =>
    Promise.all(
      vms.map(async (vm) => {
        const result = await vm.agent.exec(provisionScript(vm), 180_000);
        if (result.code !== 0) {
          const reason = (result.stderr.trim() || result.stdout.trim()).split("\n").pop();
          throw new ScriptError(`${vm.name}: provisioning failed (exit ${result.code}): ${reason}`);
        }
        say(`${vm.name}: ${result.stdout.trim().split("\n").pop()}`);
      }),
    ),
  );

  const nodes = vms.filter((vm) => vm.name !== "dns");
  const ring = await timed("ring of 5 consistent", () => waitForRing(nodes, RING_TIMEOUT_MS, say));
  say(`one ring: ${ringOrder(ring, vms)}`);
  if (key) {
    await timed("private network: all keyed, plain PING unanswered", async () => {
      const open = ring.filter((status) => status.privateNetwork !== true);
      if (open.length > 0) throw new ScriptError(`${open.length} node(s) do not run the private network although --key was given`);
      // From alpha, speak the plain protocol to beta's port: a keyed node sends nothing back and closes.
      const beta = byName("beta");
      const answer = await byName("alpha").agent.run(
        `bash -c 'exec 3<>/dev/tcp/${beta.spec.address}/7495 && printf "PING\\r\\n" >&3 && timeout 5 cat <&3; true'`,
      );
      if (answer.trim() !== "") throw new ScriptError(`beta answered a clear-text PING on a private network: ${answer.trim().slice(0, 80)}`);
    });
    say("private network: all 5 nodes keyed; beta sent nothing back to a clear-text PING");
  }

  const alpha = byName("alpha");
  const echo = byName("echo");
  const sha256 = await timed("alpha shares 1 MiB", async () => {
    const made = await alpha.agent.run(
      `head -c ${SHARED_BYTES} /dev/urandom > /tmp/${SHARED_FILE} && chmod 644 /tmp/${SHARED_FILE} && sha256sum /tmp/${SHARED_FILE}`,
    );
    await clientJson(alpha, `upload /tmp/${SHARED_FILE}`);
    return made.split(" ")[0]!;
  });
  const match = await timed("echo finds it", () => findOnRing(echo, "vm-hello"));
  await timed("echo downloads it, SHA-256 checked", async () => {
    await clientJson(echo, `download ${match.name}@${match.id} --out /tmp/downloaded-${SHARED_FILE}`, 120_000);
    const copy = (await echo.agent.run(`sha256sum /tmp/downloaded-${SHARED_FILE}`)).split(" ")[0];
    if (copy !== sha256) throw new ScriptError(`echo's copy differs: sha256 ${copy} instead of ${sha256}`);
  });
  say(`alpha shared ${SHARED_FILE}; echo found it on ${match.holders} holder(s), downloaded it, sha256 ${sha256.slice(0, 16)}… matches`);

  const charlie = byName("charlie");
  await charlie.powerOff();
  say("charlie powered off hard (SIGKILL to its QEMU)");
  const survivors = nodes.filter((vm) => vm !== charlie);
  const repaired = await timed("ring of 4 repaired after charlie's power-off", () => waitForRing(survivors, RING_TIMEOUT_MS, say));
  say(`ring repaired without charlie: ${ringOrder(repaired, vms)}`);

  charlie.start();
  await timed("charlie boots again and systemd rejoins its node", async () => {
    await charlie.waitUntilBooted(BOOT_TIMEOUT_MS);
    await waitForRing(nodes, RING_TIMEOUT_MS, say);
  });
  say("charlie is back in the ring (p2p-node.service enabled, started at boot)");

  const delta = byName("delta");
  const killed = await mainPid(delta);
  if (!(killed > 1)) throw new ScriptError(`delta: p2p-node has no main pid (${killed})`);
  await delta.agent.run(`kill -9 ${killed}`);
  say(`delta: kill -9 ${killed} (p2p-node's main process)`);
  await timed("delta's unit restarts after kill -9, ring of 5 again", async () => {
    const deadline = Date.now() + RING_TIMEOUT_MS;
    for (let attempt = 0; attempt < 1_000 && Date.now() < deadline; attempt++) {
      const now = await mainPid(delta);
      if (now > 1 && now !== killed) break;
      await Bun.sleep(500);
    }
    await waitForRing(nodes, RING_TIMEOUT_MS, say);
  });
  say(`delta's node runs again as pid ${await mainPid(delta)}; ring of 5 consistent`);

  keepLogs = false;
  await timed("teardown (QEMU killed by pid, namespace deleted)", () => life.stopAll());
  if ((await run(["ip", "netns", "list"])).includes(network.namespace)) throw new ScriptError(`namespace ${network.namespace} still exists`);
  report();
}

function ringOrder(ring: RingStatus[], vms: Vm[]): string {
  const nameOf = (address: string) => vms.find((vm) => address.startsWith(`${vm.spec.address}:`))?.name ?? address;
  return [...ring]
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((status) => nameOf(status.address))
    .join(" -> ");
}

async function findOnRing(vm: Vm, term: string): Promise<{ name: string; id: string; holders: number }> {
  const deadline = Date.now() + 60_000;
  for (let attempt = 0; attempt < 100 && Date.now() < deadline; attempt++) {
    const found = await clientJson<{ name: string; id: string; holders: number }[]>(vm, `search ${term}`);
    if (found.length > 0) return found[0]!;
    await Bun.sleep(1_000);
  }
  throw new ScriptError(`${vm.name}: search ${term} found nothing in 60 s`);
}

function report(): void {
  const total = performance.now() - runStart;
  console.log("\nnpm run vms: all checks passed\n");
  for (const [label, ms] of timings) console.log(`  ${label.padEnd(52)} ${(ms / 1000).toFixed(1).padStart(6)} s`);
  console.log(`  ${"total".padEnd(52)} ${(total / 1000).toFixed(1).padStart(6)} s`);
  const digest = createHash("sha256").update(readFileSync(BINARY)).digest("hex").slice(0, 12);
  console.log(`\n  dist/p2p ${digest}… on 6 VMs (CPU ${options().cpu}); nothing left running: QEMU, taps, bridge and namespace removed`);
}

await life.run(main);
