// The Debian bookworm disk image the VMs of `npm run vms` boot: built once with debootstrap from Debian's packages and
// kept in a cache outside the repository, keyed by its recipe so a changed recipe builds a new one.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { run } from "./shell";

export interface BootImage {
  /** ext4 root filesystem, raw; each VM boots a qcow2 overlay on it, so the image itself is never written. */
  rootfs: string;
  kernel: string;
  initrd: string;
}

/**
 * Packages on top of debootstrap's minbase: a kernel, systemd as init, `ip`, udev (it starts the guest agent when its
 * port appears) and the QEMU guest agent, the host's way to run commands in a VM without any network to it.
 */
const PACKAGES = ["systemd-sysv", "linux-image-amd64", "iproute2", "udev", "qemu-guest-agent", "procps"];

/** Run in the new root: what a Vagrant box has that install.sh relies on (the vagrant user), and a quiet, quick boot. */
const CUSTOMIZE = `set -eu
useradd --create-home --shell /bin/bash vagrant
# systemd-network-generator turns the kernel's ip= argument into a networkd config (Debian's kernel has no IP_PNP).
systemctl enable systemd-networkd systemd-network-generator
# A getty on ttyS0 would hang up the console log; nobody logs in, the host runs commands through the guest agent.
systemctl mask serial-getty@ttyS0.service getty@tty1.service
# Six VMs share two emulated cores: skip what a throwaway VM does not need at boot (timers, scrubbing, getty-static).
systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer getty-static.service 2>/dev/null || true
systemctl set-default multi-user.target
echo p2p-vm > /etc/hostname
printf '/dev/vda / ext4 defaults,noatime 0 1\\n' > /etc/fstab
mkdir -p /mnt/p2p
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
`;

const ROOTFS_SIZE = "2G";

/**
 * The libvirt box variant for a real `vagrant up` (docs/VAGRANT.md, "vagrant up here"): what Vagrant needs of a box on
 * top: sshd, sudo without a password and Vagrant's insecure public key for the vagrant user, DHCP on the first NIC
 * (Vagrant's management network; Vagrant configures the private one itself through networkd).
 */
const BOX_PACKAGES = ["openssh-server", "sudo"];
const BOX_CUSTOMIZE = `set -eu
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/vagrant
chmod 0440 /etc/sudoers.d/vagrant
install -d -m 0700 -o vagrant -g vagrant /home/vagrant/.ssh
printf '%s\n' "$VAGRANT_PUBLIC_KEY" > /home/vagrant/.ssh/authorized_keys
chown vagrant:vagrant /home/vagrant/.ssh/authorized_keys
chmod 0600 /home/vagrant/.ssh/authorized_keys
printf '[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n\n[DHCPv4]\nClientIdentifier=mac\n' > /etc/systemd/network/10-management.network
# Every VM of a box boots the same image: an empty machine-id makes systemd create one per VM at first boot. With the
# image's own, every VM sent the same DHCP client id (derived from it) and only the first VM got an address.
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
echo 'UseDNS no' > /etc/ssh/sshd_config.d/vagrant.conf
`;

export type ImageKind = "vms" | "vagrant-box";

/** `${XDG_CACHE_HOME:-~/.cache}/p2p-vms`: survives `git clean`, shared by every checkout on this machine. */
export function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "p2p-vms");
}

/** The cached image for this recipe, built first if it is missing (about 2 minutes, ~300 MB of packages). */
export async function bootImage(log: (line: string) => void, kind: ImageKind = "vms", vagrantPublicKey = ""): Promise<BootImage> {
  const box = kind === "vagrant-box";
  const packages = box ? [...PACKAGES, ...BOX_PACKAGES] : PACKAGES;
  const customize = box ? `${CUSTOMIZE}\n${BOX_CUSTOMIZE}` : CUSTOMIZE;
  const recipe = createHash("sha256").update(JSON.stringify(box ? { packages, customize, ROOTFS_SIZE, vagrantPublicKey } : { PACKAGES, CUSTOMIZE, ROOTFS_SIZE })).digest("hex").slice(0, 12);
  const dir = join(cacheDir(), `${box ? "box-" : ""}bookworm-${recipe}`);
  const image = { rootfs: join(dir, "rootfs.img"), kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img") };
  if (existsSync(join(dir, "complete"))) return image;

  const mirror = debianMirror();
  log(`building the VM image once (debootstrap bookworm from ${mirror}, about 2 minutes) into ${dir}`);
  const started = performance.now();
  const work = `${dir}.partial-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  const root = join(work, "root");
  mkdirSync(root, { recursive: true });
  try {
    await run(["debootstrap", "--variant=minbase", `--include=${packages.join(",")}`, "bookworm", root, mirror], { timeoutMs: 15 * 60_000 });
    await run(["chroot", root, "/usr/bin/env", `VAGRANT_PUBLIC_KEY=${vagrantPublicKey}`, "/bin/sh", "-c", customize], { timeoutMs: 120_000 });
    const boot = readdirSync(join(root, "boot"));
    const kernel = boot.find((name) => name.startsWith("vmlinuz-"));
    const initrd = boot.find((name) => name.startsWith("initrd.img-"));
    if (!kernel || !initrd) throw new Error(`no kernel or initrd in the new root's /boot (found: ${boot.join(", ")})`);
    renameSync(join(root, "boot", kernel), join(work, "vmlinuz"));
    renameSync(join(root, "boot", initrd), join(work, "initrd.img"));
    await run(["truncate", "-s", ROOTFS_SIZE, join(work, "rootfs.img")]);
    await run(["mkfs.ext4", "-q", "-F", "-L", "p2p-root", "-d", root, join(work, "rootfs.img")], { timeoutMs: 300_000 });
    rmSync(root, { recursive: true, force: true });
    writeFileSync(join(work, "complete"), `${new Date().toISOString()}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
    // Images of older recipes (and builds interrupted by Ctrl-C) are ~700 MB each: keep only this one of its kind.
    const prefix = `${box ? "box-" : ""}bookworm-`;
    for (const entry of readdirSync(cacheDir())) {
      const stalePartial = entry.includes(".partial-") && !existsSync(`/proc/${entry.split(".partial-")[1]}`);
      if (entry.startsWith(prefix) && join(cacheDir(), entry) !== dir && (stalePartial || !entry.includes(".partial-"))) {
        rmSync(join(cacheDir(), entry), { recursive: true, force: true });
      }
    }
  } catch (error) {
    rmSync(work, { recursive: true, force: true });
    throw error;
  }
  log(`image built in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return image;
}

/** The Debian mirror apt already uses on this machine (the only registry it can reach), else deb.debian.org. */
function debianMirror(): string {
  const candidates = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, "utf8");
    const deb822 = /^URIs:\s*(\S+)/m.exec(text);
    if (deb822 && !deb822[1]!.includes("security")) return deb822[1]!;
    const oneLine = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text);
    if (oneLine) return oneLine[1]!;
  }
  return "http://deb.debian.org/debian";
}
