#!/bin/sh
# Runs as root in each VM (the Vagrantfile's shell provisioner, and `npm run vms`): installs /usr/local/bin/p2p and starts p2p-<role>.
# usage: install.sh dns|node <this VM's address> <DNS host:port>
#        (a network key at /tmp/p2p-network.key, if the provisioner copied one, makes the network private)
#        install.sh check-cpu    only the CPU check (P2P_CPUINFO=<file> reads another cpuinfo: the tests use it)
set -eu

# dist/p2p is a Bun executable, and Bun on x86-64 needs x86-64-v2: on a CPU without these it dies at once with
# "Illegal instruction" (exit 132), and systemd would restart it for ever. QEMU's default model (qemu64, what a
# libvirt guest gets without KVM) lacks them. Each was measured: remove any one from a Nehalem CPU and p2p dies.
# An arm64 cpuinfo has no "flags" line and needs nothing here.
check_cpu() {
  cpuinfo="${P2P_CPUINFO:-/proc/cpuinfo}"
  flags_line=$(grep -m 1 '^flags' "$cpuinfo" || true)
  [ -n "$flags_line" ] || return 0
  flags=" ${flags_line#*:} "
  missing=""
  for flag in ssse3 sse4_1 sse4_2 popcnt; do
    case "$flags" in *" $flag "*) ;; *) missing="$missing $flag" ;; esac
  done
  if [ -n "$missing" ]; then
    echo "install.sh: this CPU lacks$missing, which p2p needs (x86-64-v2): give the VM a CPU model with SSE4.2 (libvirt: host-passthrough or a model >= Nehalem; QEMU: -cpu Nehalem or max); see docs/VAGRANT.md" >&2
    exit 3
  fi
}

if [ "${1:-}" = check-cpu ]; then
  check_cpu
  echo "install.sh: this CPU has what p2p needs"
  exit 0
fi

[ $# -eq 3 ] || { echo "usage: install.sh dns|node <this VM's address> <DNS host:port>" >&2; exit 2; }
role="$1"
address="$2"
dns="$3"
case "$role" in dns|node) ;; *) echo "install.sh: role must be dns or node, got '$role'" >&2; exit 2 ;; esac

check_cpu
# A binary for another architecture (or a damaged copy) fails here with one line, not in a restart loop under systemd.
if ! version=$(/tmp/p2p --version 2>&1); then
  echo "install.sh: the copied dist/p2p does not run on this $(uname -m) VM: ${version:-no output}; build it for the VM (npm run build -- --target linux-x64 or linux-arm64)" >&2
  exit 4
fi

install -m 0755 /tmp/p2p /usr/local/bin/p2p
install -d -o vagrant -g vagrant -m 0755 /var/lib/p2p

# A private network (P2P_KEY_FILE for the Vagrantfile, --key for npm run vms): the key is readable only by the
# services' user. A key installed once stays when later provisions bring none, so a private network never opens by
# accident; delete /var/lib/p2p/network.key and provision again to open it.
key="/var/lib/p2p/network.key"
if [ -f /tmp/p2p-network.key ]; then
  if ! grep -Eq '^[0-9a-f]{64}$' /tmp/p2p-network.key; then
    echo "install.sh: /tmp/p2p-network.key is not a p2p network key (64 hex digits on one line, from p2p keygen)" >&2
    exit 5
  fi
  install -m 0600 -o vagrant -g vagrant /tmp/p2p-network.key "$key"
  rm -f /tmp/p2p-network.key
fi
if [ -f "$key" ]; then network_key="$key"; else network_key=""; fi

cat > /etc/default/p2p <<CONF
# Written by scripts/vagrant/install.sh; read by p2p-$role.service (restart it after editing).
P2P_HOME=/var/lib/p2p
P2P_ADDRESS=$address
P2P_DNS=$dns
P2P_KEY=$network_key
CONF

# Login shells (vagrant ssh, vagrant ssh -c) look for the node's socket where the unit keeps it.
cat > /etc/profile.d/p2p.sh <<'PROFILE'
export P2P_HOME=/var/lib/p2p
PROFILE

install -m 0644 "/tmp/p2p-$role.service" "/etc/systemd/system/p2p-$role.service"
systemctl daemon-reload
systemctl enable "p2p-$role.service"
# restart, not start: `vagrant provision` after a rebuild must run the new binary.
systemctl restart "p2p-$role.service"
if [ -n "$network_key" ]; then network="private network"; else network="open network"; fi
echo "p2p-$role $version is running on $address (DNS $dns, $network)"
