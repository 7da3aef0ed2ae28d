// The shapes of a testnet (src/testnet.ts): its options, its nodes, and what a caller can do with it.

import type { Subprocess } from "bun";
import type { NodeStatus } from "../node/node";

export interface TestnetOptions {
  nodes: number;
  /** The command that runs p2p: the built binary, or Bun on the source (default). */
  executable?: string[];
  /** First three octets, e.g. "127.0.0": DNS at .1, nodes from .2. Default: a random 127.x.y. */
  subnet?: string;
  /** Extra flags for every `p2p node`. */
  nodeArgs?: string[];
  /** Extra flags for `p2p dns`. */
  dnsArgs?: string[];
  /** Keep P2P_HOME after close (the demo's --keep). */
  keepHome?: boolean;
  /** Last octet of the DNS's address; nodes take the next ones (default 1: DNS at .1, nodes from .2). */
  firstOctet?: number;
  /**
   * Processes may outlive this one (demo --keep, scripts/cluster.ts): each runs in its own session, so a Ctrl-C
   * in the terminal does not reach it, and logs to <home>/logs/<ip or dns>.log, since a pipe dies with its reader.
   */
  detached?: boolean;
  /** Called as each process starts, so a caller knows every pid (the DNS's too) and can stop them even before this resolves. */
  onSpawn?: (role: string, proc: Subprocess) => void;
  env?: Record<string, string>;
  /**
   * Private network: writes a new key to <home>/network.key and gives it to the DNS and every node as P2P_KEY
   * (a node added with `env: { P2P_KEY: "" }` has none). Without it the network is open, whatever the caller's P2P_KEY.
   */
  key?: boolean;
}

export interface AddNodeOptions {
  /** The --dns value; null: no --dns flag at all (P2P_DNS or the default decides). Default: this testnet's DNS. */
  dns?: string | null;
  /** Extra environment for this node only. */
  env?: Record<string, string>;
  /** Extra flags for this node only, after the testnet's `nodeArgs`. */
  args?: string[];
  /** How many nodes start at the same time as this one (they share the cores): its wait to join grows with them. */
  startingTogether?: number;
  /**
   * The nodes started together with this one share it: while any of them keeps joining, the others' wait
   * runs on, so a loaded machine that starts a wave slowly but steadily is not taken for a broken join.
   */
  wave?: JoinWave;
}

/** When a node of a wave last joined (ms since the epoch). */
export type JoinWave = { lastJoinAt: number };

export interface TestnetNode {
  readonly ip: string;
  readonly address: string;
  readonly id: string;
  readonly socketPath: string;
  readonly process: Subprocess;
  /** What the node wrote to stderr so far. */
  log(): string;
}

export interface Testnet {
  readonly home: string;
  readonly dnsAddress: string;
  readonly nodes: TestnetNode[];
  readonly executable: string[];
  /** The key file of a private testnet (`key: true`), else null. */
  readonly keyFile: string | null;
  /** What the DNS wrote to stderr so far. */
  dnsLog(): string;
  /** Starts one more node on the next free address (or the given last octet). */
  /** `position`: the node's address counted from the subnet (its last octet while it stays in the first /24; src/testnet/addresses.ts). */
  addNode(position?: number, options?: AddNodeOptions): Promise<TestnetNode>;
  /**
   * Starts a stopped node again on the same address and data directory, replacing its entry in `nodes`;
   * resolves once it is in the ring (or, with `waitForJoin: false`, as soon as it is spawned).
   */
  restartNode(node: TestnetNode, options?: { waitForJoin?: boolean }): Promise<TestnetNode>;
  /** Sends a signal to a node and waits for it to exit. */
  stopNode(node: TestnetNode, signal?: NodeJS.Signals): Promise<number>;
  /** Nodes whose process is still running. */
  liveNodes(): TestnetNode[];
  status(node: TestnetNode): Promise<NodeStatus>;
  /** One op on a node's control socket, for tests and tools. */
  control(node: TestnetNode, op: string, args?: string[]): Promise<Uint8Array>;
  /** Resolves when every live node has said it is in the ring (after restarts that did not wait). */
  waitForNodesInRing(timeoutMs?: number): Promise<void>;
  /** Resolves when every live node's successor and predecessor are the true ones; rejects at the deadline. */
  waitForConsistentRing(timeoutMs?: number): Promise<void>;
  /** Env for running `p2p client` against this network. */
  readonly env: Record<string, string>;
  close(): Promise<void>;
}
