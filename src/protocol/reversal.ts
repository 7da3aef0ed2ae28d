// Connection reversal: the unreachable side of a pair dials the reachable one, which sends its requests on that connection.

import { formatAddress, parsePeerAddress } from "./address";
import { connect, type ConnectTarget, ProtocolClient } from "./client";
import type { FramedConnection } from "./connection";
import { P2PError } from "./errors";
import type { RequestHead } from "./frame";
import { IDLE_TIMEOUT_SECONDS } from "./limits";
import type { OpSpec, OpTable } from "./ops";
import { type ServedConnection, serveConnection } from "./server";

/** The op the dialling side sends first: `REVERSED <token>`. */
export const REVERSED_OP = "REVERSED";
/** A token is this many random bytes, sent as lowercase hex: unguessable, so a stranger cannot take a link meant for another. */
export const REVERSAL_TOKEN_BYTES = 16;
/** How long a reversal is waited for when the caller names no time. */
export const REVERSAL_TIMEOUT_MS = 10_000;
/** The most reversals one node waits for at once (each holds a timer and a promise). */
export const MAX_PENDING_REVERSALS = 64;
/** How long the dialling side waits for the reachable side's answer to `REVERSED`. */
export const REVERSED_ANSWER_TIMEOUT_MS = 5_000;

const TOKEN_PATTERN = new RegExp(`^[0-9a-f]{${REVERSAL_TOKEN_BYTES * 2}}$`);

/** A fresh token for one reversal. */
export function newReversalToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(REVERSAL_TOKEN_BYTES))).toString("hex");
}

/** What the relay carries to the holder: where to connect and the token to present. */
export interface ReversalNotice {
  /** The reachable side's peer address, `ip:port` (`[ip]:port` for IPv6). */
  address: string;
  token: string;
}

/** The notice as one line, `<ip:port> <token>`, for a relay that carries lines. */
export function encodeReversalNotice(notice: ReversalNotice): string {
  return `${notice.address} ${notice.token}`;
}

/** Parses a notice line; MALFORMED (with what was expected) for anything else. */
export function decodeReversalNotice(line: string): ReversalNotice {
  const [address = "", token = "", ...rest] = line.trim().split(/ +/);
  if (rest.length > 0 || !TOKEN_PATTERN.test(token)) throw P2PError.invalid("reversal notice", line, `<ip:port> <${REVERSAL_TOKEN_BYTES * 2} lowercase hex digits>`);
  const { ip, port } = parsePeerAddress(address, "reversal address");
  return { address: formatAddress(ip, port), token };
}

/**
 * The reachable side: the reversals it waits for, and the `REVERSED` op its peer server answers. A token is
 * single-use (forgotten when a connection presents it, or when it expires); a connection presenting any
 * other token gets 404 and nothing else.
 */
export class Reversals {
  private readonly pending = new Map<string, PendingReversal>();
  private readonly idleTimeoutMs: number;

  constructor(options: { idleTimeoutSeconds?: number } = {}) {
    this.idleTimeoutMs = (options.idleTimeoutSeconds ?? IDLE_TIMEOUT_SECONDS) * 1000;
  }

  /** Reversals waited for now. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Resolves with the link the peer given `token` opens to this node's peer port (`REVERSED <token>`): this
   * side sends requests on it, the peer serves them. Rejects with TIMEOUT after `timeoutMs`, with MALFORMED
   * for a token that is not REVERSAL_TOKEN_BYTES of hex, CONFLICT when it is already waited for, UNAVAILABLE
   * past MAX_PENDING_REVERSALS.
   */
  expectReversal(token: string, timeoutMs = REVERSAL_TIMEOUT_MS): Promise<ProtocolClient> {
    if (!TOKEN_PATTERN.test(token)) return Promise.reject(P2PError.invalid("reversal token", token, `${REVERSAL_TOKEN_BYTES * 2} lowercase hex digits`));
    if (this.pending.has(token)) return Promise.reject(new P2PError("CONFLICT", "a reversal with this token is already waited for"));
    if (this.pending.size >= MAX_PENDING_REVERSALS) return Promise.reject(new P2PError("UNAVAILABLE", `already waiting for ${MAX_PENDING_REVERSALS} reversals; try again later`));
    return new Promise<ProtocolClient>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new P2PError("TIMEOUT", `no peer connected back with the reversal token within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(token, { resolve, reject, timer });
    });
  }

  /** The op table to merge into the peer server's. */
  ops(): OpTable {
    return { [REVERSED_OP]: this.reversedOp() };
  }

  /** Rejects every reversal still waited for (the node is stopping). */
  close(): void {
    for (const [token, waiting] of this.pending) {
      this.pending.delete(token);
      clearTimeout(waiting.timer);
      waiting.reject(new P2PError("CLOSED", "this node is shutting down"));
    }
  }

  private reversedOp(): OpSpec {
    return {
      usage: `${REVERSED_OP} <token>`,
      minArgs: 1,
      maxArgs: 1,
      handle: (request) => {
        const token = request.args[0]!;
        const waiting = TOKEN_PATTERN.test(token) ? this.pending.get(token) : undefined;
        if (!waiting) throw new P2PError("NOT_FOUND", "no reversal is waited for with this token (unknown, already used or expired)");
        // Single use from here: whatever happens to this connection, the token is spent.
        this.pending.delete(token);
        clearTimeout(waiting.timer);
        const peer = request.connectionId;
        return {
          handOver: (connection: FramedConnection<RequestHead> | null) => {
            if (connection) waiting.resolve(new ProtocolClient(connection, peer, this.idleTimeoutMs));
            else waiting.reject(new P2PError("MALFORMED", `the reversed connection from ${peer} broke the protocol before it could be used`));
          },
        };
      },
    };
  }
}

interface PendingReversal {
  resolve(link: ProtocolClient): void;
  reject(error: P2PError): void;
  timer: ReturnType<typeof setTimeout>;
}

export interface DialReversalOptions {
  /** The ops this side serves on the connection: its normal peer op table. */
  ops: OpTable;
  warn?: (message: string) => void;
  networkKey?: Uint8Array;
  localAddress?: string;
  connectTimeoutMs?: number;
  idleTimeoutSeconds?: number;
}

/**
 * The unreachable side: connects to the reachable side's peer port, presents `token` and, once accepted,
 * serves `options.ops` on that connection until either side closes it. Rejects with the reachable side's
 * answer (NOT_FOUND for a token it does not wait for) or the connection's failure.
 */
export async function dialReversal(target: ConnectTarget, token: string, options: DialReversalOptions): Promise<ServedConnection> {
  const client = await connect(target, { connectTimeoutMs: options.connectTimeoutMs, networkKey: options.networkKey, localAddress: options.localAddress, idleTimeoutSeconds: options.idleTimeoutSeconds });
  const connection = await client.handOver(REVERSED_OP, [token], REVERSED_ANSWER_TIMEOUT_MS);
  return serveConnection(connection, { ops: options.ops, warn: options.warn, idleTimeoutSeconds: options.idleTimeoutSeconds });
}
