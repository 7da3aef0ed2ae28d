#!/bin/sh
# Runs as root in each VM (the Vagrantfile's shell provisioner): installs /usr/local/bin/p2p and starts p2p-<role>.
# usage: install.sh dns|node <this VM's address> <DNS host:port>
set -eu
role="$1"
address="$2"
dns="$3"

install -m 0755 /tmp/p2p /usr/local/bin/p2p
install -d -o vagrant -g vagrant -m 0755 /var/lib/p2p

cat > /etc/default/p2p <<CONF
# Written by scripts/vagrant/install.sh; read by p2p-$role.service (restart it after editing).
P2P_HOME=/var/lib/p2p
P2P_ADDRESS=$address
P2P_DNS=$dns
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
echo "p2p-$role is running on $address (DNS $dns)"
