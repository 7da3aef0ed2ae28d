// One connection of a protocol server: a few requests run at once, replies leave in request order, unread replies are bounded.

import { formatAddress } from "./address";
import type { FramedConnection } from "./connection";
import { type ConnectionSource, frameConnection } from "./take-over";
import type { LinkLayer } from "./link-layer";
import { P2PError, STATUS, asP2PError } from "./errors";
import { type RequestHead, encodeLines, encodeResponse, requestDecoder } from "./frame";
import { MAX_CONCURRENT_REQUESTS_PER_CONNECTION, MAX_PIPELINED_REQUESTS, MAX_QUEUED_REPLY_BYTES, MAX_QUEUED_REQUEST_BYTES, quietTimeoutFor } from "./limits";
import type { OpTable, Reply } from "./ops";

export interface SessionLimits {
  /** Asks for a garbage collection soon (rate-limited by the server). */
  collectGarbage(): void;
  idleTimeoutMs: number;
  firstRequestTimeoutMs: number;
  keepaliveIntervalMs: number;
}

/** One request on a connection, from arrival to its reply leaving. */
interface Slot {
  head: RequestHead;
  body: Uint8Array;
  state: "queued" | "running" | "done";
  reply: Uint8Array[];
  replyBytes: number;
  /** When something was last sent on this request's behalf (its progress or a keepalive). */
  lastSentAt: number;
  /** Where the connection goes once this reply is sent (see `Reply.handOver`). */
  handOver?: Reply["handOver"];
}

// Per-connection state: a few requests run at once, replies leave in the order requests came, and what
// waits unread for the peer is bounded: past MAX_QUEUED_REPLY_BYTES no request starts and reading stops.
export class ServerSession {
  readonly connection: FramedConnection<RequestHead>;
  private readonly ops: OpTable;
  private readonly limits: SessionLimits;
  private readonly warn: (message: string) => void;
  private readonly pending: Slot[] = [];
  private running = 0;
  /** Bytes of finished replies held back because an earlier request is still running. */
  private heldBytes = 0;
  private largestReply = 0;
  /** Body bytes of requests waiting for a handler. */
  private queuedRequestBytes = 0;
  private closeAfterPending = false;
  private keepaliveTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly closed = new AbortController();
  private readonly onClosed: (droppedBytes: number) => void;

  /** `source`: a new socket, or a connection this process opened and now serves on (src/protocol/reversal.ts). */
  constructor(
    source: ConnectionSource<RequestHead>,
    ops: OpTable,
    bodyOps: ReadonlySet<string>,
    limits: SessionLimits,
    warn: (message: string) => void,
    onClosed: (droppedBytes: number) => void,
    layer?: LinkLayer,
  ) {
    this.ops = ops;
    this.limits = limits;
    this.warn = warn;
    this.onClosed = onClosed;
    this.connection = frameConnection(
      source,
      requestDecoder(bodyOps),
      {
        frame: (frame) => this.dispatch(frame.head, frame.body),
        malformed: (error) => this.rejectAndClose(error),
        drained: () => this.pump(),
        // A peer hanging up or going idle is ordinary; only protocol abuse is worth a warning.
        closed: () => {
          clearTimeout(this.keepaliveTimer);
          const dropped = this.connection.droppedBytes + this.heldBytes;
          this.pending.length = 0;
          this.heldBytes = 0;
          this.closed.abort();
          onClosed(dropped);
        },
      },
      { idleTimeoutMs: limits.idleTimeoutMs, firstFrameTimeoutMs: limits.firstRequestTimeoutMs, quietTimeoutMs: quietTimeoutFor(limits.idleTimeoutMs), busy: () => this.pending.length > 0 || this.heldBytes > 0 },
      layer,
    );
  }

  /** Answers one error and closes once everything before it has been answered. */
  rejectAndClose(error: P2PError): void {
    this.warn(`${this.connection.remoteAddress}: ${error.message}; closing the connection`);
    this.refuse(error);
  }

  /** Like rejectAndClose, without the warning (a refusal for capacity is the peer's bad luck, not abuse). */
  refuse(error: P2PError): void {
    if (this.closeAfterPending) return;
    const reply = errorReply(error);
    this.pending.push({ head: { op: "", args: [] }, body: EMPTY, state: "done", reply, replyBytes: byteLength(reply), lastSentAt: 0 });
    this.closeAfterPending = true;
    this.writeReady();
  }

  /** Reply bytes the peer has not read: queued for the socket, or finished and waiting for their turn. */
  private get unsentBytes(): number {
    return this.connection.pendingBytes + this.heldBytes;
  }

  private dispatch(head: RequestHead, body: Uint8Array): void {
    if (this.closeAfterPending) return;
    if (this.pending.length >= MAX_PIPELINED_REQUESTS) {
      this.rejectAndClose(new P2PError("MALFORMED", `more than ${MAX_PIPELINED_REQUESTS} requests outstanding on one connection`));
      return;
    }
    this.pending.push({ head, body, state: "queued", reply: [], replyBytes: 0, lastSentAt: 0 });
    this.queuedRequestBytes += body.length;
    this.pump();
  }

  /**
   * Starts queued requests in order while the connection has room; stops or resumes reading to match.
   * Running handlers, and the one about to start, count at the size of the largest reply seen so far,
   * so a connection asking for 1 MiB chunks holds about MAX_QUEUED_REPLY_BYTES in all, not that plus a
   * chunk per handler. One handler may always run while anything is unsent below the limit.
   */
  private pump(): void {
    if (this.connection.isClosed) return;
    for (const slot of this.pending) {
      if (this.running >= MAX_CONCURRENT_REQUESTS_PER_CONNECTION || this.unsentBytes >= MAX_QUEUED_REPLY_BYTES) break;
      if (this.running > 0 && this.unsentBytes + (this.running + 1) * this.largestReply > MAX_QUEUED_REPLY_BYTES) break;
      if (slot.state === "queued") this.start(slot);
    }
    if (this.unsentBytes >= MAX_QUEUED_REPLY_BYTES) {
      // Blocked: replies the kernel already took are garbage now, and an attack is mostly blocked sessions.
      if (!this.connection.isPaused) this.limits.collectGarbage();
      this.connection.pauseReading();
    } else if (this.queuedRequestBytes >= MAX_QUEUED_REQUEST_BYTES) {
      this.connection.pauseReading();
    } else {
      this.connection.resumeReading();
    }
  }

  private start(slot: Slot): void {
    slot.state = "running";
    this.queuedRequestBytes -= slot.body.length;
    slot.lastSentAt = performance.now();
    this.running++;
    if (this.pending[0] === slot) this.armKeepalive();
    void this.run(slot).then((reply) => {
      this.running--;
      slot.state = "done";
      slot.reply = reply;
      slot.replyBytes = byteLength(reply);
      slot.body = EMPTY;
      this.largestReply = Math.max(this.largestReply, slot.replyBytes);
      if (this.connection.isClosed) return slot.handOver?.(null);
      this.heldBytes += slot.replyBytes;
      this.writeReady();
      this.pump();
    });
  }

  private async run(slot: Slot): Promise<Uint8Array[]> {
    const { head, body } = slot;
    const spec = this.ops[head.op];
    if (!spec) {
      return errorReply(new P2PError("UNKNOWN_OPERATION", `unknown operation '${head.op.slice(0, 32)}'; known: ${Object.keys(this.ops).join(", ")}`));
    }
    if (head.args.length < spec.minArgs || head.args.length > spec.maxArgs) {
      return errorReply(P2PError.usage(spec.usage));
    }
    try {
      const progress = (lines: readonly string[]) => {
        if (this.pending[0] === slot && !this.connection.isClosed) {
          slot.lastSentAt = performance.now();
          this.connection.write(encodeResponse(STATUS.IN_PROGRESS.status, STATUS.IN_PROGRESS.reason, encodeLines(lines)));
        }
      };
      const reply = await spec.handle({
        op: head.op,
        args: head.args,
        body,
        remoteAddress: this.connection.remoteAddress,
        remotePort: this.connection.remotePort,
        connectionId: this.connection.remotePort ? formatAddress(this.connection.remoteAddress, this.connection.remotePort) : this.connection.remoteAddress,
        progress,
        signal: this.closed.signal,
      });
      slot.handOver = reply.handOver;
      const status = reply.status ?? STATUS.OK;
      return encodeResponse(status.status, status.reason, reply.body ?? encodeLines(reply.lines ?? []));
    } catch (error) {
      const failure = asP2PError(error);
      if (failure.code === "ERROR") this.warn(`${head.op} failed: ${failure.message}`);
      return errorReply(failure);
    }
  }

  private writeReady(): void {
    let moved = false;
    while (this.pending.length > 0 && this.pending[0]!.state === "done") {
      const slot = this.pending.shift()!;
      this.heldBytes -= slot.replyBytes;
      this.connection.write(slot.reply);
      moved = true;
      if (slot.handOver) return this.giveAway(slot.handOver);
    }
    if (this.closeAfterPending && this.pending.length === 0) this.connection.end();
    if (moved && this.pending[0]?.state === "running") {
      this.pending[0].lastSentAt = performance.now();
      this.armKeepalive();
    }
  }

  /**
   * Gives the connection to the handler that asked for it, once its reply is queued: the server forgets it
   * (its slot is freed) and the new owner changes its role. A peer that sent anything after the request it
   * was to wait on gets the connection closed instead.
   */
  private giveAway(handOver: NonNullable<Reply["handOver"]>): void {
    if (this.pending.length > 0 || this.connection.midFrame || this.closeAfterPending) {
      handOver(null);
      this.rejectAndClose(new P2PError("MALFORMED", "sent more after a request that hands the connection over"));
      return;
    }
    clearTimeout(this.keepaliveTimer);
    this.onClosed(0);
    handOver(this.connection);
  }

  /** While the next reply's handler runs, say so every keepalive interval: waiting is not lost. */
  private armKeepalive(): void {
    clearTimeout(this.keepaliveTimer);
    const head = this.pending[0];
    if (!head || head.state !== "running" || this.connection.isClosed) return;
    const due = head.lastSentAt + this.limits.keepaliveIntervalMs - performance.now();
    this.keepaliveTimer = setTimeout(() => {
      const current = this.pending[0];
      if (current !== head || head.state !== "running" || this.connection.isClosed) return;
      if (performance.now() - head.lastSentAt >= this.limits.keepaliveIntervalMs) {
        head.lastSentAt = performance.now();
        this.connection.write(KEEPALIVE);
      }
      this.armKeepalive();
    }, Math.max(10, due));
  }
}

const EMPTY = new Uint8Array(0);
const KEEPALIVE = encodeResponse(STATUS.IN_PROGRESS.status, STATUS.IN_PROGRESS.reason, EMPTY);

function byteLength(parts: readonly Uint8Array[]): number {
  let total = 0;
  for (const part of parts) total += part.length;
  return total;
}

/** An error reply: the status line, and the message as one data line a person can read. */
function errorReply(error: P2PError): Uint8Array[] {
  const { status, reason } = error.wireStatus;
  return encodeResponse(status, reason, encodeLines([error.message.replace(/[\r\n]+/g, " ")]));
}
