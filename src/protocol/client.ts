// The calling side of a link: one persistent connection, requests answered in the order they were sent.

import type { Socket } from "bun";
import { FramedConnection, connectionHandlers } from "./connection";
import { P2PError, statusName } from "./errors";
import { type ResponseHead, decodeLines, encodeRequest, responseDecoder } from "./frame";
import { CONNECT_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, IDLE_TIMEOUT_SECONDS } from "./limits";

export type ConnectTarget = { hostname: string; port: number } | { unix: string };

export interface Response {
  status: number;
  reason: string;
  body: Uint8Array;
}

export interface RequestOptions {
  timeoutMs?: number;
  /** A body to send after the line; its length is appended as the last argument. */
  body?: Uint8Array;
  /** Receives the data lines of each interim `202 IN PROGRESS` reply; each one restarts the timeout. */
  onProgress?: (lines: string[]) => void;
}

export interface ConnectOptions {
  connectTimeoutMs?: number;
  idleTimeoutSeconds?: number;
}

/** Opens a connection; rejects with UNREACHABLE (nothing listens) or TIMEOUT. */
export async function connect(target: ConnectTarget, options: ConnectOptions = {}): Promise<ProtocolClient> {
  const where = describeTarget(target);
  const connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  const handlers = connectionHandlers<ResponseHead>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const opening = Bun.connect<FramedConnection<ResponseHead>>({
    ...target,
    socket: handlers,
  } as Parameters<typeof Bun.connect<FramedConnection<ResponseHead>>>[0]);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new P2PError("TIMEOUT", `no answer from ${where} within ${connectTimeoutMs} ms`)), connectTimeoutMs);
  });
  let socket: Socket<FramedConnection<ResponseHead>>;
  try {
    socket = await Promise.race([opening, timeout]);
  } catch (error) {
    // A connection that opens after we gave up must not linger.
    opening.then((late) => late.terminate(), () => {});
    if (error instanceof P2PError) throw error;
    throw new P2PError("UNREACHABLE", `cannot reach ${where}: ${(error as Error).message}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
  socket.timeout(options.idleTimeoutSeconds ?? IDLE_TIMEOUT_SECONDS);
  return new ProtocolClient(socket, where);
}

/** Sends requests and matches replies by order. Any failure of the link fails every outstanding request. */
export class ProtocolClient {
  readonly target: string;
  private readonly connection: FramedConnection<ResponseHead>;
  private readonly waiting: Array<Waiter> = [];
  private failure: P2PError | null = null;

  constructor(socket: Socket<FramedConnection<ResponseHead>>, target: string) {
    this.target = target;
    this.connection = new FramedConnection(socket, responseDecoder(), {
      frame: (frame) => this.settle(frame.head, frame.body),
      malformed: (error) => this.fail(new P2PError("MALFORMED", `${target} sent a malformed reply: ${error.message}`)),
      closed: (reason) => this.fail(reason ?? new P2PError("CLOSED", `${target} closed the connection`)),
    });
  }

  get isClosed(): boolean {
    return this.failure !== null;
  }

  /** Requests outstanding on this connection. */
  get outstanding(): number {
    return this.waiting.length;
  }

  /**
   * Sends one request and resolves with its reply when the status is 2xx.
   * Other statuses reject with a P2PError whose code names the status and whose message is the peer's.
   */
  async request(op: string, args: readonly string[] = [], options: RequestOptions = {}): Promise<Response> {
    const response = await this.send(op, args, options);
    if (response.status >= 200 && response.status < 300) return response;
    const code = statusName(response.status);
    const detail = decodeLines(response.body).join(" ").trim() || response.reason;
    throw new P2PError(code === "OK" || code === "IN_PROGRESS" ? "ERROR" : code, detail);
  }

  /** Sends one request and resolves with whatever status comes back (for tools and tests). */
  send(op: string, args: readonly string[] = [], options: RequestOptions = {}): Promise<Response> {
    if (this.failure) return Promise.reject(this.failure);
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise<Response>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        onProgress: options.onProgress,
        timer: undefined,
        arm: () => {
          clearTimeout(waiter.timer);
          waiter.timer = setTimeout(() => {
            // Replies are matched by order, so after a lost reply the connection cannot be trusted.
            this.fail(new P2PError("TIMEOUT", `${this.target} did not answer ${op} within ${timeoutMs} ms`));
          }, timeoutMs);
        },
      };
      waiter.arm();
      this.waiting.push(waiter);
      this.connection.write(encodeRequest(op, args, options.body));
    });
  }

  /** Sends raw bytes as they are (tests use it to send garbage). */
  sendRaw(bytes: Uint8Array): void {
    this.connection.write([bytes]);
  }

  close(): void {
    this.fail(new P2PError("CLOSED", `connection to ${this.target} was closed`));
  }

  private settle(head: ResponseHead, body: Uint8Array): void {
    if (head.status === 202 && this.waiting[0]) {
      const current = this.waiting[0];
      current.arm();
      current.onProgress?.(decodeLines(body));
      return;
    }
    const waiter = this.waiting.shift();
    if (!waiter) {
      this.fail(new P2PError("MALFORMED", `${this.target} sent a reply nobody asked for`));
      return;
    }
    clearTimeout(waiter.timer);
    waiter.resolve({ status: head.status, reason: head.reason, body });
  }

  private fail(error: P2PError): void {
    if (!this.failure) this.failure = error;
    this.connection.destroy(error);
    for (const waiter of this.waiting.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }
}

interface Waiter {
  resolve(response: Response): void;
  reject(error: P2PError): void;
  onProgress: ((lines: string[]) => void) | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** (Re)starts the reply timeout. */
  arm(): void;
}

export function describeTarget(target: ConnectTarget): string {
  return "unix" in target ? target.unix : `${target.hostname}:${target.port}`;
}
