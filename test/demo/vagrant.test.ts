// The Vagrantfile and its systemd units: six VMs on fixed addresses, dist/p2p installed as /usr/local/bin/p2p, and only
// flags the real binary accepts. Files are read, never run: nothing here talks to those addresses.

import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
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
    expect(vagrantfile).toContain('config.vm.box = "debian/bookworm64"');
    expect(vagrantfile).toContain('config.vm.provider "virtualbox"');
    expect(vagrantfile).toContain('config.vm.provider "libvirt"');
  });

  test("provisioning copies dist/p2p to /usr/local/bin/p2p and stops early with a clear message when it is missing", () => {
    expect(vagrantfile).toContain('BINARY = File.join(__dir__, "dist", "p2p")');
    expect(vagrantfile).toContain('machine.vm.provision "file", source: BINARY, destination: "/tmp/p2p"');
    expect(vagrantfile).toMatch(/abort "Vagrantfile: dist\/p2p is missing: build it first with `npm run build`" unless File\.file\?\(BINARY\)/);
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
      const proc = Bun.spawn(withoutNetwork([vagrant!, "validate"]), {
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
