// Where the page listens: the node's own loopback address by default (nodes on one machine do not clash), else 127.0.0.1.

import { canonicalIp, isLoopback } from "../protocol/ip";
import { parsePort } from "../protocol/address";
import { P2PError } from "../protocol/errors";

/** The page's default port, beside the DNS (7494) and the peers (7495). */
export const WEB_PORT = 7496;

/** `--web-listen [ip:]port`, or the default for a node at `nodeIp`. */
export function webListen(nodeIp: string, flag: string | undefined): { hostname: string; port: number } {
  const defaultHost = isLoopback(nodeIp) ? nodeIp : "127.0.0.1";
  if (flag === undefined) return { hostname: defaultHost, port: WEB_PORT };
  if (/^\d+$/.test(flag)) return { hostname: defaultHost, port: parsePort(flag, "--web-listen port") };
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(flag);
  const colon = flag.lastIndexOf(":");
  if (!bracketed && (colon <= 0 || flag.indexOf(":") !== colon)) throw new P2PError("MALFORMED", `invalid --web-listen '${flag.slice(0, 80)}': expected [ip:]port`);
  const [ip, port] = bracketed ? [bracketed[1]!, bracketed[2]!] : [flag.slice(0, colon), flag.slice(colon + 1)];
  const hostname = canonicalIp(ip);
  if (hostname === null) throw new P2PError("MALFORMED", `invalid --web-listen address '${ip.slice(0, 80)}': expected an IP address`);
  return { hostname, port: parsePort(port, "--web-listen port") };
}
