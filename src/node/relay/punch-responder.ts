// The edge's half of a hole punch: PUNCH requests arriving on a circuit drive `punch()` as the responder, and a punched socket is served like a circuit.

import { isP2PError, P2PError } from "../../protocol/errors";
import type { OpTable, Request } from "../../protocol/ops";
import { choosePunchPort, punch, type PunchChannel, PUNCH_MESSAGE_TIMEOUT_MS, type PunchResult, servePunched } from "../../protocol/punch";
import { serveOp, type ServedOp } from "../../wire/op";
import { RELAY } from "../../wire/relay";
import type { Observation } from "./punch-observe";

/** Punches an edge runs at once: each makes it send a few SYNs to an address a dialler named, so they are few. */
export const MAX_CONCURRENT_PUNCHES = 4;

export interface PunchResponderOptions {
  /** The IP this edge's relay sees it come from (its NAT's public address, or its own), and whether its NAT keeps ports. */
  observe(): Promise<Observation>;
  /** What the edge serves on a punched link: what it serves on a circuit. */
  ops(): OpTable;
  localAddress?: string;
  /** A private network's key: a punched link runs the handshake, this side answering it. */
  networkKey?: Uint8Array;
  /** This edge's own IP on its network, announced so a dialler behind the same NAT connects to it straight. */
  lanIp?: string;
  warn(message: string): void;
  info(message: string): void;
}

/** One punch under way on one circuit: lines from the dialler wait in `inbound`, the edge's own line goes to `outbound`. */
type Session = { inbound: string[]; wake: (() => void) | null; outbound: Promise<string>; sent: (line: string) => void };

export class PunchResponder {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly options: PunchResponderOptions) {}

  /** PUNCH on a link; `diallerIp` is where the relay saw the dialler, on a circuit (a birthday punch needs it). */
  ops(diallerIp?: string): ServedOp[] {
    return [serveOp(RELAY.PUNCH, (line, request) => this.received(line, request, diallerIp))];
  }

  private async received(line: string, request: Request, diallerIp: string | undefined): Promise<string | null> {
    const session = this.sessions.get(request.connectionId);
    if (line === "SYNC") {
      if (!session) throw new P2PError("CONFLICT", "SYNC without a CONNECT on this link");
      session.inbound.push(line);
      session.wake?.();
      return null;
    }
    if (session) throw new P2PError("CONFLICT", "a punch is under way on this link already");
    if (this.sessions.size >= MAX_CONCURRENT_PUNCHES) throw new P2PError("UNAVAILABLE", `this node runs ${MAX_CONCURRENT_PUNCHES} punches already; use the relay`);
    const started = this.start(request.connectionId, line, diallerIp);
    return withTimeout(started.outbound, PUNCH_MESSAGE_TIMEOUT_MS);
  }

  private start(key: string, connect: string, diallerIp: string | undefined): Session {
    let sent: (line: string) => void = () => {};
    const session: Session = { inbound: [connect], wake: null, outbound: new Promise<string>((resolve) => (sent = resolve)), sent: (line) => sent(line) };
    this.sessions.set(key, session);
    const channel: PunchChannel = {
      send: async (line) => session.sent(line),
      receive: (timeoutMs) => this.next(session, timeoutMs),
      peerIp: () => diallerIp,
    };
    void this.run(channel)
      .catch((error: unknown) => {
        if (!isP2PError(error)) throw error;
        this.options.info(`hole punch failed (${error.message}); the dialler stays on the relay`);
      })
      .finally(() => this.sessions.delete(key));
    return session;
  }

  private async run(channel: PunchChannel): Promise<void> {
    const { ip, randomPorts } = await this.options.observe();
    const { localAddress, lanIp } = this.options;
    const serve = (result: PunchResult) => servePunched(result, { ops: this.options.ops(), warn: this.options.warn, networkKey: this.options.networkKey });
    // A birthday punch may open more than one link: the dialler keeps one and closes the others, so each is served.
    serve(await punch(channel, { role: "responder", localPort: choosePunchPort(localAddress), observedIp: ip, randomPorts, localAddress, lanIp, onLater: serve }));
  }

  /** The dialler's next line, within `timeoutMs`. */
  private async next(session: Session, timeoutMs: number): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    while (session.inbound.length === 0) {
      const left = deadline - performance.now();
      if (left <= 0) throw new P2PError("TIMEOUT", `the dialler sent no punch message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        session.wake = () => (clearTimeout(timer), resolve());
      });
      session.wake = null;
    }
    return session.inbound.shift()!;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new P2PError("TIMEOUT", `no punch answer within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
