// `p2p dns`: runs the introducer until SIGINT/SIGTERM.

import { defineCommand } from "citty";
import { resolve } from "node:path";
import { createIntroducer, DEFAULT_TTL_SECONDS } from "../dns";
import { log } from "../log";
import { isIP } from "node:net";
import { DNS_PORT, parsePort } from "../protocol/address";
import { P2PError } from "../protocol/errors";
import { logArgs, parseSeconds, runCommand, untilSignal } from "./common";
import { keyArg, networkKeyOption } from "./key-option";

export default defineCommand({
  meta: {
    name: "dns",
    description: "Run the P2P DNS: the introducer new peers ask for live peers to join through",
  },
  args: {
    host: { type: "string", valueHint: "address", description: "Address to listen on", default: "0.0.0.0" },
    port: { type: "string", valueHint: "port", description: "TCP port to listen on (0 picks a free one)", default: String(DNS_PORT) },
    db: { type: "string", valueHint: "file", description: "SQLite file holding the registered peers", default: "./p2pdns.db" },
    ttl: { type: "string", valueHint: "seconds", description: "Seconds a peer stays listed without a heartbeat", default: String(DEFAULT_TTL_SECONDS) },
    ...keyArg,
    ...logArgs,
  },
  run: ({ args }) =>
    runCommand(args, async () => {
      const hostname = parseListenHost(args.host);
      const port = parsePort(args.port, "--port", { allowZero: true });
      const ttlSeconds = parseSeconds(args.ttl, "ttl", 7 * 24 * 3600);
      const dbPath = resolve(args.db);
      const networkKey = networkKeyOption(args.key);
      const introducer = createIntroducer({ hostname, port, dbPath, ttlSeconds, networkKey: networkKey?.key, warn: (message) => log.warn(message) });
      await introducer.ready();
      const privately = networkKey ? `; private network, key ${networkKey.path}` : "";
      log.info(`p2p dns listening on ${introducer.address} (database ${dbPath}, peer TTL ${ttlSeconds} s${privately})`);
      const signal = await untilSignal();
      log.info(`${signal}: stopping`);
      await introducer.close();
    }),
});

/** --host: an IP address or a host name; a malformed one (127.0.77.300) is a usage error, as `p2p node notanip` is. */
function parseListenHost(value: string): string {
  const hostName = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
  if (isIP(value) === 0 && !hostName.test(value)) throw P2PError.invalid("--host", value, "an IP address such as 127.0.0.1 or 0.0.0.0, or a host name");
  return value;
}
