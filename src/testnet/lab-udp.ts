// Replies of the lab's UDP gateways (NAT-PMP, SSDP) that a gone asker cannot make fatal.

/**
 * A searcher that found its router closes its socket, so the answer to its second M-SEARCH meets a closed port, and the
 * kernel's ICMP for it surfaces as ECONNREFUSED on the next send: one log line, never the gateway's end.
 */
export function sendOrNote(udp: { send(data: string | Uint8Array, port: number, address: string): boolean }, data: string | Uint8Array, port: number, address: string, log: (line: string) => void): void {
  try {
    udp.send(data, port, address);
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    log(`could not answer ${address}:${port}: ${error.message}`);
  }
}
