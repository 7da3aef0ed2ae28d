// dist/p2p on the CPUs VM guests get: it runs under user-mode QEMU on Nehalem (SSE4.2, no AVX/AVX2), dies on QEMU's
// default qemu64, and install.sh turns that death into one line naming the missing CPU features before installing anything.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { builtBinary } from "../helpers/binary";
import { REPO_ROOT, runP2P, startP2P, stopAllProcesses } from "../helpers/processes";
import { loopbackAddress, tempDir } from "../helpers/wait";

const INSTALL_SH = join(REPO_ROOT, "scripts", "vagrant", "install.sh");

/** The flags lines of /proc/cpuinfo, copied from Debian bookworm guests of `npm run vms` (QEMU 7.2, TCG) with these CPU models. */
const CPUINFO_FLAGS = {
  qemu64:
    "fpu de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 syscall nx lm rep_good nopl cpuid extd_apicid pni cx16 hypervisor lahf_lm svm 3dnowprefetch vmmcall",
  Nehalem:
    "fpu de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 syscall nx lm constant_tsc rep_good nopl xtopology cpuid pni ssse3 cx16 sse4_1 sse4_2 popcnt hypervisor lahf_lm",
};
/** An arm64 guest's cpuinfo has "Features", no "flags": nothing for the x86-64 check to refuse. */
const ARM64_CPUINFO = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid\nCPU implementer\t: 0x61\n";

const home = tempDir("p2p-cpu-");
afterEach(stopAllProcesses);
afterAll(() => home.remove());

function cpuinfo(body: string): string {
  const dir = mkdtempSync(join(home.path, "cpuinfo-"));
  const path = join(dir, "cpuinfo");
  writeFileSync(path, body);
  return path;
}

function x86Cpuinfo(flags: string): string {
  return cpuinfo(`processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: QEMU Virtual CPU\nflags\t\t: ${flags}\n\nprocessor\t: 1\nflags\t\t: ${flags}\n`);
}

/** Only the `check-cpu` mode: it never installs anything, whatever the cpuinfo says. */
function checkCpu(path: string): { code: number; stdout: string; stderr: string } {
  const result = Bun.spawnSync(["sh", INSTALL_SH, "check-cpu"], { env: { ...process.env, P2P_CPUINFO: path }, stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

describe("install.sh's CPU check", () => {
  test("a qemu64 CPU is refused with one line naming the missing SSE4.2 and POPCNT, before anything is installed", () => {
    const result = checkCpu(x86Cpuinfo(CPUINFO_FLAGS.qemu64));
    expect(result.code).toBe(3);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("this CPU lacks ssse3 sse4_1 sse4_2 popcnt, which p2p needs (x86-64-v2)");
    expect(lines[0]).toContain("host-passthrough or a model >= Nehalem");
  });

  test("a CPU missing only POPCNT is refused and the line names popcnt alone", () => {
    const result = checkCpu(x86Cpuinfo(CPUINFO_FLAGS.Nehalem.replace(" popcnt", "")));
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("this CPU lacks popcnt, which");
  });

  test("a Nehalem CPU and an arm64 CPU pass the check", () => {
    for (const path of [x86Cpuinfo(CPUINFO_FLAGS.Nehalem), cpuinfo(ARM64_CPUINFO)]) {
      const result = checkCpu(path);
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
      expect(result.stdout).toBe("install.sh: this CPU has what p2p needs\n");
    }
  });

  test("install.sh with a wrong role or argument count stops with usage before touching anything", () => {
    const wrongRole = Bun.spawnSync(["sh", INSTALL_SH, "router", "127.0.0.1", "127.0.0.1:7494"], { stderr: "pipe" });
    expect(wrongRole.exitCode).toBe(2);
    expect(wrongRole.stderr.toString()).toContain("role must be dns or node, got 'router'");
    const missing = Bun.spawnSync(["sh", INSTALL_SH, "node"], { stderr: "pipe" });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr.toString()).toContain("usage: install.sh dns|node");
  });
});

const qemu = Bun.which("qemu-x86_64");
const onX64 = process.arch === "x64";
const skipReason = !onX64 ? "not an x86-64 host" : !qemu ? "qemu-x86_64 is not installed (apt-get install qemu-user)" : "";
if (skipReason) console.warn(`skipping dist/p2p under qemu-x86_64: ${skipReason}`);

/** dist/p2p under user-mode QEMU with a given CPU model: the binary sees that CPU's CPUID and executes only its instructions. */
const underQemu = (binary: string, cpu: string) => [qemu!, "-cpu", cpu, binary];

describe("dist/p2p under qemu-x86_64", () => {
  const name = (title: string) => (skipReason ? `${title} (skipped: ${skipReason})` : title);

  test.skipIf(!!skipReason)(
    name("dist/p2p runs on a Nehalem CPU (SSE4.2, no AVX or AVX2) and dies with Illegal instruction on qemu64"),
    async () => {
      const binary = await builtBinary();
      const nehalem = await runP2P(["--version"], { executable: underQemu(binary, "Nehalem"), timeoutMs: 60_000 });
      expect({ code: nehalem.code, stderr: nehalem.stderr }).toEqual({ code: 0, stderr: "" });
      expect(nehalem.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
      const qemu64 = await runP2P(["--version"], { executable: underQemu(binary, "qemu64"), timeoutMs: 60_000 });
      // 128 + SIGILL: what systemd would restart for ever without install.sh's check.
      expect(qemu64.code).toBe(132);
    },
    130_000,
  );

  test.skipIf(!!skipReason)(
    name("on a Nehalem CPU a DNS and a node form a ring on loopback and the node hashes and shares a file"),
    async () => {
      const binary = await builtBinary();
      const dnsAddress = loopbackAddress();
      let nodeAddress = loopbackAddress();
      for (let attempt = 0; attempt < 10 && nodeAddress === dnsAddress; attempt++) nodeAddress = loopbackAddress();
      const env = { P2P_HOME: join(home.path, "home") };
      const dns = startP2P(["dns", "--host", dnsAddress, "--db", join(home.path, "dns.db")], { env, executable: underQemu(binary, "Nehalem") });
      await dns.waitForStderr(/listening on/, 60_000);
      const node = startP2P(["node", nodeAddress, "--dns", `${dnsAddress}:7494`], { env, executable: underQemu(binary, "Nehalem") });
      await node.waitForStderr(/is in the ring/, 60_000);

      // The client runs natively; the upload (the node reads and hashes the file) and the search run in the emulated node.
      const file = join(home.path, "nehalem-shared.bin");
      writeFileSync(file, new Uint8Array(256 * 1024).map((_, index) => (index * 7919) % 251));
      const upload = await runP2P(["client", "upload", file, "--node", nodeAddress, "--json"], { env, executable: [binary], timeoutMs: 60_000 });
      expect({ code: upload.code, stderr: upload.stderr }).toEqual({ code: 0, stderr: "" });
      expect(JSON.parse(upload.stdout)).toMatchObject({ name: "nehalem-shared.bin", size: 256 * 1024 });
      const search = await runP2P(["client", "search", "nehalem", "--node", nodeAddress, "--json"], { env, executable: [binary], timeoutMs: 60_000 });
      expect(search.code).toBe(0);
      expect(JSON.parse(search.stdout).map((found: { name: string }) => found.name)).toEqual(["nehalem-shared.bin"]);
      expect(await node.stop()).toBe(0);
      expect(await dns.stop()).toBe(0);
    },
    130_000,
  );
});
