// The Vagrantfile and its systemd units: six VMs on fixed addresses, dist/p2p installed as /usr/local/bin/p2p, and only
// flags the real binary accepts. Files are read, never run: nothing here talks to those addresses.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DNS_PORT, MACHINES } from "../../src/testnet/vm-machines";
import { builtBinary } from "../helpers/binary";
import { REPO_ROOT, runP2P } from "../helpers/processes";
import { tempDir } from "../helpers/wait";

const read = (path: string) => readFileSync(join(REPO_ROOT, path), "utf8");
const vagrantfile = read("Vagrantfile");
const installScript = read("scripts/vagrant/install.sh");
const units = { dns: read("scripts/vagrant/p2p-dns.service"), node: read("scripts/vagrant/p2p-node.service") };
const VM_NAMES = ["dns", "alpha", "beta", "charlie", "delta", "echo"];

/** The `"name" => "address"` pairs of the Vagrantfile's MACHINES table, in order. */
function machines(): [string, string][] {
  const table = /MACHINES = \{([^}]*)\}/.exec(vagrantfile)?.[1] ?? "";
  return [...table.matchAll(/"(\w+)"\s*=>\s*"([\d.]+)"/g)].map((match) => [match[1]!, match[2]!]);
}

/** The subcommand and the flags of a unit's ExecStart line. */
function execStart(unit: string): { command: string; subcommand: string; flags: string[] } {
  const match = /^ExecStart=(\S+) (\w+)(.*)$/m.exec(unit);
  if (!match) throw new Error("no ExecStart line");
  return { command: match[1]!, subcommand: match[2]!, flags: [...match[3]!.matchAll(/(?:^|\s)(--[a-z][a-z-]*)/g)].map((flag) => flag[1]!) };
}

/** Flags listed in `p2p <subcommand> --help`, read from the built binary itself. */
async function acceptedFlags(binary: string, subcommand: string): Promise<string[]> {
  const help = await runP2P([subcommand, "--help"], { executable: [binary] });
  expect(help.code).toBe(0);
  return [...help.stdout.matchAll(/^\s*(--[a-z][a-z-]*)(?:=|\s)/gm)].map((match) => match[1]!);
}

describe("Vagrantfile", () => {
  test("the Vagrantfile defines the VMs dns, alpha, beta, charlie, delta and echo on six fixed private addresses", () => {
    const defined = machines();
    expect(defined.map(([name]) => name)).toEqual(VM_NAMES);
    const addresses = defined.map(([, address]) => address);
    expect(new Set(addresses).size).toBe(6);
    for (const address of addresses) expect(address).toMatch(/^192\.168\.56\.\d+$/);
    expect(vagrantfile).toContain('config.vm.define name do');
    expect(vagrantfile).toContain('machine.vm.network "private_network", ip: address');
    expect(vagrantfile).toContain('BOX = ENV.fetch("P2P_BOX", "debian/bookworm64")');
    expect(vagrantfile).toContain("config.vm.box = BOX");
    expect(vagrantfile).toContain('config.vm.provider "virtualbox"');
    expect(vagrantfile).toContain('config.vm.provider "libvirt"');
  });

  test("npm run vms boots the same six machines on the same addresses with the same DNS port", () => {
    expect(MACHINES.map((machine) => [machine.name, machine.address])).toEqual(machines());
    expect(vagrantfile).toContain(`DNS_PORT = ${DNS_PORT}`);
  });

  test("provisioning copies dist/p2p to /usr/local/bin/p2p and stops early with a clear message when it is missing", () => {
    expect(vagrantfile).toContain('BINARY = File.file?(TARGET_BINARY) ? TARGET_BINARY : File.join(__dir__, "dist", "p2p")');
    expect(vagrantfile).toContain('machine.vm.provision "file", source: BINARY, destination: "/tmp/p2p"');
    expect(vagrantfile).toMatch(/abort "Vagrantfile: dist\/p2p is missing: build it first with `npm install && npm run build`" unless File\.file\?\(BINARY\)/);
    expect(installScript).toContain("install -m 0755 /tmp/p2p /usr/local/bin/p2p");
    for (const unit of Object.values(units)) expect(execStart(unit).command).toBe("/usr/local/bin/p2p");
  });

  test("every node's --dns points at the dns VM's address on port 7494", () => {
    const dnsAddress = Object.fromEntries(machines()).dns;
    expect(dnsAddress).toBeDefined();
    // Vagrantfile → install.sh arguments → /etc/default/p2p → the unit's ExecStart: each link checked.
    expect(vagrantfile).toContain('DNS_ADDRESS = "#{MACHINES.fetch("dns")}:#{DNS_PORT}"');
    expect(vagrantfile).toContain("DNS_PORT = 7494");
    expect(vagrantfile).toContain('role = name == "dns" ? "dns" : "node"');
    expect(vagrantfile).toContain('args: [role, address, DNS_ADDRESS]');
    expect(installScript).toMatch(/^role="\$1"\naddress="\$2"\ndns="\$3"$/m);
    expect(installScript).toContain("P2P_DNS=$dns");
    expect(installScript).toContain("P2P_ADDRESS=$address");
    expect(units.node).toContain("EnvironmentFile=/etc/default/p2p");
    expect(units.node).toMatch(/^ExecStart=\/usr\/local\/bin\/p2p node \$\{P2P_ADDRESS\} --dns \$\{P2P_DNS\}$/m);
  });

  test("the units run p2p dns and p2p node as the vagrant user with P2P_HOME=/var/lib/p2p and restart on failure", () => {
    expect(units.dns).toMatch(/^ExecStart=\/usr\/local\/bin\/p2p dns --host 0\.0\.0\.0 --db \/var\/lib\/p2p\/p2pdns\.db$/m);
    for (const unit of Object.values(units)) {
      expect(unit).toMatch(/^Restart=on-failure$/m);
      expect(unit).toMatch(/^User=vagrant$/m);
      expect(unit).toMatch(/^WantedBy=multi-user\.target$/m);
    }
    expect(installScript).toContain("P2P_HOME=/var/lib/p2p");
    expect(installScript).toContain("export P2P_HOME=/var/lib/p2p");
    expect(installScript).toContain("install -d -o vagrant -g vagrant -m 0755 /var/lib/p2p");
    expect(Bun.spawnSync(["sh", "-n", join(REPO_ROOT, "scripts/vagrant/install.sh")]).exitCode).toBe(0);
  });

  test("the unit files use only flags that dist/p2p dns and dist/p2p node accept", async () => {
    const binary = await builtBinary();
    for (const unit of Object.values(units)) {
      const { subcommand, flags } = execStart(unit);
      expect(flags.length).toBeGreaterThan(0);
      const accepted = await acceptedFlags(binary, subcommand);
      expect(accepted).toContain("--verbose");
      expect(flags.filter((flag) => !accepted.includes(flag))).toEqual([]);
    }
  }, 120_000);
});

/** The first 20 bytes of an ELF executable (64-bit, little-endian) for `machine` (e_machine, offset 18). */
function elfHeader(machine: number): Uint8Array {
  const header = Buffer.alloc(64);
  header.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  header.writeUInt16LE(2, 16);
  header.writeUInt16LE(machine, 18);
  return header;
}

const ruby = Bun.which("ruby");
const rubySkip = ruby ? "" : " (skipped: ruby is not installed; it comes with vagrant)";

describe("the Vagrantfile's check of dist/p2p", () => {
  const copies = tempDir("p2p-vagrantfile-");
  afterAll(() => copies.remove());

  /**
   * Evaluates the Vagrantfile as `vagrant up` would read it, in a copy of the repository's layout with the given
   * dist/p2p, under plain Ruby with Vagrant.configure stubbed: the check runs before any Vagrant API is used.
   */
  function up(binary: Uint8Array | null, env: Record<string, string> = {}, others: Record<string, Uint8Array> = {}): { code: number; stderr: string } {
    const dir = mkdtempSync(join(copies.path, "repo-"));
    writeFileSync(join(dir, "Vagrantfile"), vagrantfile);
    mkdirSync(join(dir, "dist"));
    if (binary) writeFileSync(join(dir, "dist", "p2p"), binary);
    for (const [name, bytes] of Object.entries(others)) writeFileSync(join(dir, "dist", name), bytes);
    const script = `module Vagrant; def self.configure(*); end; end; ARGV.replace(["up"]); load ${JSON.stringify(join(dir, "Vagrantfile"))}`;
    const result = Bun.spawnSync([ruby!, "-e", script], { env: { PATH: process.env.PATH ?? "", ...env }, stdout: "pipe", stderr: "pipe" });
    return { code: result.exitCode, stderr: result.stderr.toString() };
  }

  test.skipIf(!ruby)(`vagrant up accepts an x86-64 dist/p2p for the x86-64 box and an arm64 one for P2P_BOX_ARCH=arm64${rubySkip}`, () => {
    expect(up(elfHeader(0x3e))).toEqual({ code: 0, stderr: "" });
    expect(up(elfHeader(0xb7), { P2P_BOX_ARCH: "arm64" })).toEqual({ code: 0, stderr: "" });
    // `npm run build -- --target linux-arm64` writes dist/p2p-linux-arm64 beside this machine's dist/p2p.
    expect(up(elfHeader(0x3e), { P2P_BOX_ARCH: "arm64" }, { "p2p-linux-arm64": elfHeader(0xb7) })).toEqual({ code: 0, stderr: "" });
  });

  test.skipIf(!ruby)(`vagrant up refuses a binary for the other architecture with one line giving the build command${rubySkip}`, () => {
    const arm64OnX64 = up(elfHeader(0xb7));
    expect(arm64OnX64.code).toBe(1);
    expect(arm64OnX64.stderr.trim()).toBe(
      "Vagrantfile: dist/p2p is built for arm64 but the box debian/bookworm64 is x86_64: rebuild it with `npm run build -- --target linux-x64`",
    );
    const x64OnArm64 = up(elfHeader(0x3e), { P2P_BOX_ARCH: "arm64", P2P_BOX: "some/arm64-box" });
    expect(x64OnArm64.stderr.trim()).toBe(
      "Vagrantfile: dist/p2p is built for x86_64 but the box some/arm64-box is arm64: rebuild it with `npm run build -- --target linux-arm64`",
    );
  });

  test.skipIf(!ruby)(`vagrant up refuses a missing dist/p2p, a Mach-O file and an unknown P2P_BOX_ARCH, each with one line${rubySkip}`, () => {
    expect(up(null).stderr.trim()).toBe("Vagrantfile: dist/p2p is missing: build it first with `npm install && npm run build`");
    const macho = up(new Uint8Array([0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1, ...new Array(24).fill(0)]));
    expect(macho.code).toBe(1);
    expect(macho.stderr).toMatch(/^Vagrantfile: dist\/p2p is not a Linux executable \(built on .*\): rebuild it with `npm run build -- --target linux-x64`\n$/);
    const badArch = up(elfHeader(0x3e), { P2P_BOX_ARCH: "riscv64" });
    expect(badArch.stderr.trim()).toBe('Vagrantfile: P2P_BOX_ARCH must be x86_64 or arm64, got "riscv64"');
  });

  test.skipIf(!ruby)(`vagrant up takes a network key from P2P_KEY_FILE and refuses one that is not a file, with one line${rubySkip}`, () => {
    const keyFile = join(copies.path, "net.key");
    writeFileSync(keyFile, `${"ab".repeat(32)}\n`);
    expect(up(elfHeader(0x3e), { P2P_KEY_FILE: keyFile })).toEqual({ code: 0, stderr: "" });
    const missing = up(elfHeader(0x3e), { P2P_KEY_FILE: join(copies.path, "nowhere.key") });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`Vagrantfile: P2P_KEY_FILE=${join(copies.path, "nowhere.key")} is not a file: make one with \`dist/p2p keygen --out ${join(copies.path, "nowhere.key")}\``);
  });

  test("libvirt guests get a CPU p2p runs on: the host's with KVM, Nehalem under software emulation", () => {
    const libvirt = /config\.vm\.provider "libvirt" do \|lv\|([\s\S]*?)\n  end/.exec(vagrantfile)?.[1] ?? "";
    expect(libvirt).toContain('lv.cpu_mode = "host-passthrough"');
    expect(libvirt).toMatch(/if ENV\["P2P_LIBVIRT_DRIVER"\] == "qemu"\n\s+lv\.driver = "qemu"\n\s+lv\.cpu_mode = "custom"\n\s+lv\.cpu_model = "Nehalem"/);
  });

  test("install.sh gives a copied network key to the services' user alone, checks it, and never opens a private network by itself", () => {
    expect(installScript).toContain('grep -Eq \'^[0-9a-f]{64}$\' /tmp/p2p-network.key');
    expect(installScript).toContain('install -m 0600 -o vagrant -g vagrant /tmp/p2p-network.key "$key"');
    expect(installScript).toContain("rm -f /tmp/p2p-network.key");
    expect(installScript).toContain("P2P_KEY=$network_key");
    // A later provision without a key keeps the installed one: the key file decides, not the provision.
    expect(installScript).toMatch(/if \[ -f "\$key" \]; then network_key="\$key"; else network_key=""; fi/);
  });

  test("install.sh checks the CPU and runs the copied binary before it installs anything", () => {
    const body = installScript.slice(installScript.indexOf('role="$1"'));
    const checked = body.indexOf("\ncheck_cpu\n");
    const ran = body.indexOf("version=$(/tmp/p2p --version 2>&1)");
    const installed = body.indexOf("install -m 0755 /tmp/p2p /usr/local/bin/p2p");
    expect(checked).toBeGreaterThan(0);
    expect(ran).toBeGreaterThan(checked);
    expect(installed).toBeGreaterThan(ran);
  });
});

const vagrant = Bun.which("vagrant");
if (!vagrant) console.warn("vagrant is not installed: skipping `vagrant validate` (on Debian: apt-get install vagrant)");
const dotfiles = tempDir("p2p-vagrant-");
afterAll(() => dotfiles.remove());

/** `unshare -n` gives vagrant a network namespace with loopback only, so validating can never reach anything. */
function withoutNetwork(command: string[]): string[] {
  const unshare = Bun.which("unshare");
  return unshare && Bun.spawnSync([unshare, "-n", "true"]).exitCode === 0 ? [unshare, "-n", ...command] : command;
}

describe("vagrant validate", () => {
  test.skipIf(!vagrant)(
    vagrant ? "vagrant validate accepts the Vagrantfile" : "vagrant validate accepts the Vagrantfile (skipped: vagrant is not installed)",
    async () => {
      // --ignore-provider: this machine need not have VirtualBox or libvirt for the Vagrantfile itself to be valid.
      const proc = Bun.spawn(withoutNetwork([vagrant!, "validate", "--ignore-provider"]), {
        cwd: REPO_ROOT,
        stdout: "pipe",
        stderr: "pipe",
        env: {
          ...process.env,
          // No version check against HashiCorp, and .vagrant/ in a temporary directory rather than the repository.
          VAGRANT_CHECKPOINT_DISABLE: "1",
          VAGRANT_BOX_UPDATE_CHECK_DISABLE: "1",
          VAGRANT_DOTFILE_PATH: dotfiles.path,
        },
      });
      const timer = setTimeout(() => proc.kill("SIGKILL"), 40_000);
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      clearTimeout(timer);
      expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
      expect(stdout).toContain("Vagrantfile validated successfully");
    },
    45_000,
  );
});
