// `p2p node <ip>`: runs a peer daemon until SIGINT/SIGTERM or `p2p client leave`.

import { defineCommand } from "citty";
import { resolve } from "node:path";
import { log } from "../log";
import { canonicalIp } from "../protocol/ip";
import { DNS_PORT, PEER_PORT, formatAddress, parseHostPort, parsePeerAddress, parsePeerIp, parsePort } from "../protocol/address";
import { DEFAULT_HEARTBEAT_MS, DEFAULT_REPLICAS, DEFAULT_STABILIZE_MAX_MS, DEFAULT_STABILIZE_MS, DEFAULT_SUCCESSORS, createNode } from "../node/node";
import { defaultDataDir, p2pHome } from "../node/home";
import { DEFAULT_RPC_TIMEOUT_MS } from "../node/tcp-transport";
import { P2PError } from "../protocol/errors";
import { DEFAULT_ANNOUNCE_INTERVAL_MS } from "../node/files/sharing";
import { MAX_INTRODUCERS } from "../node/dns-client";
import { DEFAULT_RELAY_LIMIT } from "../node/relay/relay";
import { logArgs, parseCount, parseSeconds, runCommand, untilSignal } from "./common";
import { keyArg, networkKeyOption } from "./key-option";
import { checkWebListen, startWebServer } from "../web/server";
import { WEB_PORT, webListen } from "../web/listen";

export default defineCommand({
  meta: {
    name: "node",
    description: "Run a peer daemon: joins the ring through the DNS, stores and replicates records, serves the local client",
  },
  args: {
    ip: { type: "positional", description: "This machine's address that peers reach it at, e.g. 127.0.0.2 or 192.168.56.11", required: true },
    port: { type: "string", valueHint: "port", description: "TCP port for peers", default: String(PEER_PORT) },
    dns: {
      type: "string",
      valueHint: "host[:port]",
      description: `The DNS as host[:port], or several separated by commas (env P2P_DNS; default 127.0.0.1:${DNS_PORT})`,
    },
    data: {
      type: "string",
      valueHint: "dir",
      description: "Data directory: node.sock, records.db, catalog.db, identity.pem, known-peers.json (default $P2P_HOME/<ip>, P2P_HOME default ~/.p2p)",
    },
    successors: { type: "string", valueHint: "n", description: "Successor list length", default: String(DEFAULT_SUCCESSORS) },
    replicas: { type: "string", valueHint: "n", description: "Copies of every record (primary + replicas)", default: String(DEFAULT_REPLICAS) },
    stabilize: { type: "string", valueHint: "ms", description: "Milliseconds between ring maintenance rounds while the ring changes", default: String(DEFAULT_STABILIZE_MS) },
    "stabilize-max": {
      type: "string",
      valueHint: "ms",
      description: "Longest wait between maintenance rounds while nothing changes (the wait doubles from --stabilize)",
      default: String(DEFAULT_STABILIZE_MAX_MS),
    },
    "rpc-timeout": { type: "string", valueHint: "ms", description: "Milliseconds to wait for a peer's answer", default: String(DEFAULT_RPC_TIMEOUT_MS) },
    heartbeat: {
      type: "string",
      valueHint: "ms",
      description: "Milliseconds between DNS heartbeats; twice this (at most 40 s) while nothing changes, so keep it below half the DNS --ttl",
      default: String(DEFAULT_HEARTBEAT_MS),
    },
    "upload-limit": { type: "string", valueHint: "MB/s", description: "Most MB/s (10^6 bytes) served to other peers; 0 for no limit", default: "0" },
    "download-limit": { type: "string", valueHint: "MB/s", description: "Most MB/s (10^6 bytes) fetched, all downloads together; 0 for no limit", default: "0" },
    "max-active": { type: "string", valueHint: "n", description: "Downloads at once; the rest wait, queued, in the order asked; 0 for no limit", default: "0" },
    "announce-interval": {
      type: "string",
      valueHint: "seconds",
      description: "Seconds between re-announcements of shared files (entries expire after twice this)",
      default: String(DEFAULT_ANNOUNCE_INTERVAL_MS / 1000),
    },
    web: { type: "boolean", description: `Serve the web page (default address: the node's own if loopback, else 127.0.0.1, port ${WEB_PORT}); see p2p client web`, default: false },
    "web-listen": { type: "string", valueHint: "[ip:]port", description: "Serve the web page at this address instead (implies --web)" },
    "web-token-file": { type: "string", valueHint: "path", description: "The page's token file (created if missing; default <data>/web-token); required off loopback" },
    advertise: {
      type: "string",
      valueHint: "ip[:port]",
      description: "The address peers reach this node at when it differs from ip and --port (a manual port forward); the DNS's dial-back checks it",
    },
    also: {
      type: "string",
      valueHint: "ip",
      description: "This host's address in the other family (IPv6 beside an IPv4 ip, or the reverse): listened on too, so IPv6-only nodes reach the ring through this one",
    },
    edge: {
      type: "boolean",
      description: "Join as an edge node (behind NAT or a firewall): no peer port; reached through a relaying ring member",
      default: false,
    },
    "relay-limit": {
      type: "string",
      valueHint: "n",
      description: `Edge nodes this ring member relays for at once; 0 relays nothing (default ${DEFAULT_RELAY_LIMIT})`,
    },
    ...keyArg,
    ...logArgs,
  },
  run: ({ args }) =>
    runCommand(args, async () => {
      const ip = parsePeerIp(args.ip);
      if (ip !== args.ip) log.info(`${args.ip} is written ${ip}: the node uses that spelling (its id and data directory follow it)`);
      const port = parsePort(args.port, "--port");
      const dns = parseDnsList(args.dns ?? process.env.P2P_DNS ?? `127.0.0.1:${DNS_PORT}`);
      const dataDir = resolve(args.data ?? defaultDataDir(ip, port, p2pHome()));
      const replicas = parseCount(args.replicas, "replicas", 1, 16);
      const successors = parseCount(args.successors, "successors", Math.max(1, replicas - 1), 64);
      const networkKey = networkKeyOption(args.key);
      const advertise = args.advertise === undefined ? undefined : parseAdvertise(args.advertise, port);
      const role = parseRole(args, networkKey !== undefined);
      if (networkKey) log.info(`private network: every link to peers and the DNS needs the key in ${networkKey.path}`);
      const node = createNode({
        ip,
        port,
        advertise,
        also: args.also,
        dns,
        dataDir,
        successors,
        replicas,
        stabilizeMs: parseCount(args.stabilize, "stabilize", 50, 600_000),
        stabilizeMaxMs: parseCount(args["stabilize-max"], "stabilize-max", 50, 600_000),
        rpcTimeoutMs: parseCount(args["rpc-timeout"], "rpc-timeout", 50, 600_000),
        heartbeatMs: parseCount(args.heartbeat, "heartbeat", 100, 3_600_000),
        uploadLimitBytesPerSecond: parseRate(args["upload-limit"], "upload-limit"),
        downloadLimitBytesPerSecond: parseRate(args["download-limit"], "download-limit"),
        maxActiveDownloads: parseCount(args["max-active"], "max-active", 0, MAX_ACTIVE_DOWNLOADS),
        announceIntervalMs: parseSeconds(args["announce-interval"], "announce-interval", 24 * 3600) * 1000,
        networkKey: networkKey?.key,
        ...role,
      });
      const webOptions = args.web || args["web-listen"] !== undefined ? { ...webListen(ip, args["web-listen"]), tokenFile: args["web-token-file"] } : null;
      // Checked before joining: a refused address is one line, not a node that joined and left.
      if (webOptions) checkWebListen(webOptions);
      const signal = untilSignal();
      const started = node.ready();
      const first = await Promise.race([started.then(() => null), signal]);
      if (first !== null) {
        log.info(`${first}: stopping before the node had joined`);
        await node.close();
        return;
      }
      const web = webOptions ? await startWebServer({ ...webOptions, dataDir, ops: node.controlOps, warn: (message) => log.warn(message) }).catch(async (error) => {
        await node.close();
        throw error;
      }) : null;
      if (web) log.info(`web page at ${web.url} (p2p client web prints it with its token)`);
      const reason = await Promise.race([signal, node.stopped.then(() => "leave" as const)]);
      if (reason !== "leave") {
        log.info(`${reason}: leaving the ring`);
        // A second Ctrl-C means "now": skip the hand-over.
        untilSignal().then(() => process.exit(130));
        await node.close();
      }
      await web?.stop();
      log.info("stopped");
    }),
});

/** Most --relay-limit: each reservation holds a connection, and its circuits more. */
const MAX_RELAY_LIMIT = 1_024;

/** --edge and --relay-limit, refused together with what contradicts them. */
function parseRole(args: { edge: boolean; "relay-limit"?: string; advertise?: string; also?: string }, keyed: boolean): { edge: boolean; relayLimit: number } {
  if (args.edge) {
    if (args["relay-limit"] !== undefined) throw new P2PError("MALFORMED", "--edge and --relay-limit contradict each other: an edge node relays for nobody (only ring members relay)");
    if (args.advertise !== undefined) throw new P2PError("MALFORMED", "--edge and --advertise contradict each other: --advertise names an address peers reach, an edge node has none");
    if (args.also !== undefined) throw new P2PError("MALFORMED", "--edge and --also contradict each other: --also names an address peers reach, an edge node has none");
  }
  const relayLimit = args["relay-limit"] === undefined ? DEFAULT_RELAY_LIMIT : parseCount(args["relay-limit"], "relay-limit", 0, MAX_RELAY_LIMIT);
  return { edge: args.edge, relayLimit };
}

/** Most --max-active: each active download holds connections and a .part file open. */
const MAX_ACTIVE_DOWNLOADS = 1_000;

/** --upload-limit / --download-limit in MB/s (decimal megabytes, as network speeds are given) to bytes per second. */
function parseRate(value: string, flag: string): number {
  const rate = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !(rate >= 0) || rate > 100_000) {
    throw P2PError.invalid(`--${flag}`, value, "MB/s, e.g. 5 or 0.5 (0 for no limit)");
  }
  return rate * 1_000_000;
}

/** --advertise ip[:port] ([ip]:port for IPv6): the port defaults to the node's own. */
function parseAdvertise(value: string, port: number): { ip: string; port: number } {
  const bare = /^\[[^\]]*\]$/.test(value) ? value.slice(1, -1) : value;
  if (canonicalIp(bare) !== null) return { ip: parsePeerIp(bare), port };
  if (!value.includes(":")) throw new P2PError("MALFORMED", `invalid --advertise '${value.slice(0, 80)}': expected ip[:port] ([ip]:port for IPv6), e.g. 203.0.113.7:7495`);
  return parsePeerAddress(value, "--advertise");
}

/** --dns / P2P_DNS: one introducer or several, comma-separated, each host[:port]. */
function parseDnsList(value: string): { hostname: string; port: number }[] {
  const parts = value.split(",").map((part) => part.trim());
  if (parts.some((part) => part.length === 0)) throw new P2PError("MALFORMED", `invalid --dns '${value.slice(0, 200)}': an empty address between commas`);
  if (parts.length > MAX_INTRODUCERS) throw new P2PError("MALFORMED", `--dns takes at most ${MAX_INTRODUCERS} addresses, got ${parts.length}`);
  const targets = parts.map((part) => parseHostPort(part, DNS_PORT, "--dns"));
  const seen = new Set<string>();
  for (const target of targets) {
    const key = formatAddress(target.hostname, target.port);
    if (seen.has(key)) throw new P2PError("MALFORMED", `--dns names ${key} twice`);
    seen.add(key);
  }
  return targets;
}
