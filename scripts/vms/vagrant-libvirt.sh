#!/bin/sh
# A real `vagrant up --provider=libvirt` of the project's own Vagrantfile on a Linux machine without KVM, libvirtd
# running inside a network namespace this script creates and deletes (docs/VAGRANT.md, "vagrant up here").
#
# usage (root): sh scripts/vms/vagrant-libvirt.sh <box dir> [machine...]     (default machines: dns alpha)
#   <box dir>: vmlinuz, initrd.img and rootfs.img of the vagrant-box image variant (scripts/vms/image.ts)
# Needs: apt-get install --no-install-recommends vagrant vagrant-libvirt libvirt-daemon libvirt-daemon-driver-qemu
#        libvirt-clients dnsmasq-base iptables qemu-system-x86 qemu-utils
set -eu

box_dir="$1"
shift
machines="${*:-dns alpha}"
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/p2p-vms"
work="/tmp/p2p-vagrant-$$"
ns="p2p-vagrant-$$"
box_name="p2p/$(basename "$box_dir")"   # named after the image recipe: a new image is a new box
started=$(date +%s)

say() { echo "[$(( $(date +%s) - started )) s] $*"; }

cleanup() {
  status=$?
  set +e
  if [ -f "$work/dotfiles/done-up" ] || [ -d "$work/dotfiles/machines" ]; then
    in_ns vagrant destroy -f >/dev/null 2>&1
  fi
  for pidfile in "$work/libvirtd.pid" "$work/virtlogd.pid"; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  sleep 1
  for pidfile in "$work/libvirtd.pid" "$work/virtlogd.pid"; do
    [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null
  done
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
  # The mount points the private namespace needed, if this script created them (rmdir leaves a non-empty one alone).
  rmdir /etc/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt /run/libvirt 2>/dev/null
  say "torn down (exit $status)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Everything libvirt keeps (configuration, networks, images, leases, logs, sockets) lives under $work, bind-mounted over
# its usual places in a private mount namespace: nothing of it is left on the host afterwards. libvirtd also resolves
# its compile-time users (libvirt-qemu, libvirt-dnsmasq) at start: a private /etc/passwd and /etc/group add them.
for dir in etc-libvirt var-lib-libvirt var-log-libvirt var-cache-libvirt run-libvirt dotfiles; do mkdir -p "$work/$dir"; done
mkdir -p "$work/var-lib-libvirt/images"
cat > "$work/etc-libvirt/qemu.conf" <<'CONF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
CONF
cp /etc/libvirt/libvirt.conf "$work/etc-libvirt/" 2>/dev/null || true
cp /etc/passwd "$work/passwd"
cp /etc/group "$work/group"
grep -q '^libvirt-qemu:' "$work/passwd" || echo 'libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin' >> "$work/passwd"
grep -q '^libvirt-dnsmasq:' "$work/passwd" || echo 'libvirt-dnsmasq:x:64056:64056::/var/lib/libvirt/dnsmasq:/usr/sbin/nologin' >> "$work/passwd"
for group in libvirt-qemu:64055 libvirt-dnsmasq:64056 kvm:64057 libvirt:64058; do
  grep -q "^${group%%:*}:" "$work/group" || echo "${group%%:*}:x:${group#*:}:" >> "$work/group"
done

ip netns add "$ns"
ip -n "$ns" link set lo up

# Runs a command inside the namespace with the private /etc/libvirt, /etc/passwd and /etc/group, in the repository.
in_ns() {
  unshare -m --propagation private sh -c '
    w="$1"; n="$2"; c="$3"; shift 3
    for pair in etc-libvirt:/etc/libvirt var-lib-libvirt:/var/lib/libvirt var-log-libvirt:/var/log/libvirt \
        var-cache-libvirt:/var/cache/libvirt run-libvirt:/run/libvirt passwd:/etc/passwd group:/etc/group; do
      mkdir -p "${pair#*:}" 2>/dev/null; mount --bind "$w/${pair%%:*}" "${pair#*:}" || exit 1
    done &&
    cd "'"$repo"'" &&
    exec ip netns exec "$n" env VAGRANT_HOME="$c/vagrant-home" VAGRANT_DOTFILE_PATH="$w/dotfiles" VAGRANT_CHECKPOINT_DISABLE=1 \
      VAGRANT_BOX_UPDATE_CHECK_DISABLE=1 VAGRANT_DEFAULT_PROVIDER=libvirt P2P_BOX="'"$box_name"'" P2P_LIBVIRT_DRIVER=qemu "$@"
  ' in_ns "$work" "$ns" "$cache" "$@"
}

in_ns virtlogd -d -p "$work/virtlogd.pid"
in_ns libvirtd -d -p "$work/libvirtd.pid"
for i in $(seq 1 50); do [ -S "$work/run-libvirt/libvirt-sock" ] && break; sleep 0.2; done
say "libvirtd $(cat "$work/libvirtd.pid") and virtlogd $(cat "$work/virtlogd.pid") in namespace $ns"

# The box: the image as qcow2, booted by its kernel directly (the image has no bootloader), set in the box's Vagrantfile.
if ! in_ns vagrant box list 2>/dev/null | grep -q "^$box_name "; then
  box_build="$work/box"
  mkdir -p "$box_build"
  qemu-img convert -O qcow2 "$box_dir/rootfs.img" "$box_build/box.img"
  cp "$box_dir/vmlinuz" "$box_dir/initrd.img" "$box_build/"
  echo '{"provider":"libvirt","format":"qcow2","virtual_size":2}' > "$box_build/metadata.json"
  cat > "$box_build/Vagrantfile" <<'BOX'
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |lv|
    lv.kernel = File.join(__dir__, "vmlinuz")
    lv.initrd = File.join(__dir__, "initrd.img")
    lv.cmd_line = "root=/dev/vda rw console=ttyS0 net.ifnames=0 mitigations=off"
  end
end
BOX
  tar -C "$box_build" -cf "$work/p2p-bookworm.box" metadata.json Vagrantfile box.img vmlinuz initrd.img
  in_ns vagrant box add --name "$box_name" "$work/p2p-bookworm.box" >/dev/null
  rm -rf "$box_build" "$work/p2p-bookworm.box"
  say "box $box_name added"
fi

say "vagrant up $machines"
touch "$work/dotfiles/done-up"
# shellcheck disable=SC2086
in_ns vagrant up $machines
say "vagrant up done"
for machine in $machines; do
  role=node
  [ "$machine" = dns ] && role=dns
  # sudo: without D-Bus in the box, systemctl reaches systemd only through root's private socket.
  say "$machine: p2p-$role $(in_ns vagrant ssh "$machine" -c "sudo systemctl is-active p2p-$role" | tr -d '\r')"
done
case " $machines " in *" alpha "*) ;; *) exit 0 ;; esac
case " $machines " in *" echo "*) ;; *) exit 0 ;; esac
# The ring of alpha and echo, as `vagrant ssh` users see it (login shell: P2P_HOME from /etc/profile.d/p2p.sh).
for attempt in $(seq 1 60); do
  successor=$(in_ns vagrant ssh alpha -c 'p2p client status --json' 2>/dev/null | tr -d '\r' | sed -n 's/.*"successors":\[{[^}]*"address":"\([^"]*\)".*/\1/p')
  [ "$successor" = "192.168.56.15:7495" ] && break
  sleep 2
done
[ "$successor" = "192.168.56.15:7495" ] || { say "alpha's successor is '$successor', not echo"; exit 1; }
say "ring: alpha's successor is echo ($successor)"
sent=$(in_ns vagrant ssh alpha -c 'head -c 1048576 /dev/urandom > /tmp/vm-hello.bin && chmod 644 /tmp/vm-hello.bin && p2p client upload /tmp/vm-hello.bin --json >/dev/null && sha256sum /tmp/vm-hello.bin' | tr -d '\r' | cut -d' ' -f1)
for attempt in $(seq 1 30); do
  in_ns vagrant ssh echo -c 'p2p client search vm-hello --json' | grep -q vm-hello.bin && break
  sleep 2
done
got=$(in_ns vagrant ssh echo -c 'p2p client download vm-hello.bin --out /tmp/vm-hello.bin --json >/dev/null && sha256sum /tmp/vm-hello.bin' | tr -d '\r' | cut -d' ' -f1)
[ -n "$sent" ] && [ "$sent" = "$got" ] || { say "echo's copy differs: $got instead of $sent"; exit 1; }
say "alpha shared 1 MiB, echo found and downloaded it, sha256 $sent matches"
