// Loopback addresses for local networks: flag parsing (only 127.0.0.0/8 is accepted) and "is someone already there?".

import { ScriptError } from "./errors";

export const DNS_PORT = 7494;
export const PEER_PORT = 7495;

function octets(value: string, count: number): number[] | null {
  const parts = value.trim().split(".");
  if (parts.length !== count || !parts.every((part) => /^\d{1,3}$/.test(part))) return null;
  const numbers = parts.map(Number);
  return numbers.every((number) => number <= 255) ? numbers : null;
}

/** `127.x.y`: the first three octets of a loopback /24. */
export function parseSubnet(value: string, flag = "--subnet"): string {
  const parts = octets(value, 3);
  if (!parts || parts[0] !== 127) throw new ScriptError(`invalid ${flag} '${value}': expected 127.x.y (loopback only), e.g. 127.0.1`);
  return parts.join(".");
}

/** `127.x.y.z` with room after it: returns the subnet and the last octet. */
export function parseBase(value: string, flag = "--base"): { subnet: string; octet: number } {
  const parts = octets(value, 4);
  if (!parts || parts[0] !== 127 || parts[3]! < 1 || parts[3]! > 253) {
    throw new ScriptError(`invalid ${flag} '${value}': expected a loopback address 127.x.y.z with z from 1 to 253, e.g. 127.0.0.10`);
  }
  return { subnet: parts.slice(0, 3).join("."), octet: parts[3]! };
}

/** True when something accepts connections at host:port (a refused or timed-out connect means free). */
export async function isListening(hostname: string, port: number, timeoutMs = 500): Promise<boolean> {
  const attempt = Bun.connect({ hostname, port, socket: { data() {}, error() {} } }).then(
    (socket) => {
      socket.end();
      return true;
    },
    () => false,
  );
  return Promise.race([attempt, Bun.sleep(timeoutMs).then(() => false)]);
}

/** Of the given `host:port` addresses, those already taken. */
export async function busyAddresses(addresses: string[]): Promise<string[]> {
  const taken = await Promise.all(
    addresses.map(async (address) => {
      const [hostname, port] = address.split(":") as [string, string];
      return (await isListening(hostname, Number(port))) ? address : null;
    }),
  );
  return taken.filter((address): address is string => address !== null);
}
