// The six machines of `npm run vms`: the Vagrantfile's names, addresses and DNS port (test/demo/vagrant.test.ts keeps them equal).

export interface VmSpec {
  name: string;
  address: string;
  /** Last byte of the VM's MAC address: unique per VM. */
  index: number;
}

export const MACHINES: VmSpec[] = [
  { name: "dns", address: "192.168.56.10", index: 10 },
  { name: "alpha", address: "192.168.56.11", index: 11 },
  { name: "beta", address: "192.168.56.12", index: 12 },
  { name: "charlie", address: "192.168.56.13", index: 13 },
  { name: "delta", address: "192.168.56.14", index: 14 },
  { name: "echo", address: "192.168.56.15", index: 15 },
];

export const DNS_PORT = 7494;
export const DNS_ADDRESS = `${MACHINES[0]!.address}:${DNS_PORT}`;
