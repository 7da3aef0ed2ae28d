// One testnet of dist/p2p nodes shared by a test file's tests, with the command line to drive it; the call registers the hooks that start and stop it.

import { afterAll, afterEach, beforeAll } from "bun:test";
import { type Testnet, createTestnet } from "../../src/testnet";
import { builtBinary } from "./binary";
import { runP2P, stopAllProcesses } from "./processes";
import { tempDir } from "./wait";

/**
 * Ring upkeep as the defaults have it, only quicker, so tests settle fast; at rest it backs off to 2 s, not 30 s, since
 * a test that freezes a node (SIGSTOP) waits for the ring to be consistent again after it resumes.
 */
const QUICK_RING = ["--stabilize", "200", "--stabilize-max", "2000", "--rpc-timeout", "1000"];

export interface CliTestnet {
  /** The testnet (set once the file's beforeAll ran). */
  readonly net: Testnet;
  readonly binary: string;
  /** A temporary folder for the files the tests write, removed after the file. */
  readonly dir: { path: string; remove(): void };
  /** `p2p <args>` through the built binary with the testnet's environment. */
  p2p(args: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  /** `p2p <args> --json`, parsed; rejects with the command's stderr when it fails. */
  json<T>(args: string[]): Promise<T>;
}

/**
 * Starts `nodes` nodes (or none, then `addNodes` adds its own) on a testnet of the built binary before the file's
 * tests, stops what each test started after it, and closes the testnet after the file.
 */
export function cliTestnet(options: { nodes: number; addNodes?: (net: Testnet) => Promise<void> }): CliTestnet {
  const dir = tempDir();
  let started: { net: Testnet; binary: string } | null = null;
  const ready = () => {
    if (started === null) throw new Error("the testnet is not started: use it inside a test");
    return started;
  };
  beforeAll(async () => {
    const binary = await builtBinary();
    const net = await createTestnet({ nodes: options.nodes, executable: [binary], nodeArgs: QUICK_RING });
    started = { net, binary };
    await options.addNodes?.(net);
    await net.waitForConsistentRing(30_000);
  }, 120_000);
  afterEach(stopAllProcesses);
  afterAll(async () => {
    await started?.net.close();
    dir.remove();
  });
  const p2p = (args: string[], timeoutMs = 30_000) => runP2P(args, { executable: [ready().binary], env: ready().net.env, timeoutMs });
  return {
    get net() {
      return ready().net;
    },
    get binary() {
      return ready().binary;
    },
    dir,
    p2p,
    async json<T>(args: string[]): Promise<T> {
      const result = await p2p([...args, "--json"]);
      if (result.code !== 0) throw new Error(`p2p ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
      return JSON.parse(result.stdout) as T;
    },
  };
}
