// One circuit's two connections, handed over one after the other and then spliced into a byte pipe, both bounded.

import { splice, type SpliceEnd, type SpliceLimits } from "../../protocol/splice";
import { CIRCUIT_ACCEPT_TIMEOUT_MS } from "../../wire/relay";

/** Either end of a circuit: a connection served here (a dialler's, an edge's) or one this relay opened (a bridge's far side). */
export type CircuitEnd = SpliceEnd;

/**
 * The two connections of one circuit, handed over one after the other: the first is held (read paused, any
 * early bytes kept) until the second arrives, then both are spliced. One that never comes ends the other.
 */
export class CircuitPair {
  private readonly ends: { dialler?: CircuitEnd; edge?: CircuitEnd } = {};
  private readonly early: { dialler: Uint8Array[]; edge: Uint8Array[] } = { dialler: [], edge: [] };
  private released = false;
  private readonly timer: ReturnType<typeof setTimeout>;

  constructor(
    private readonly limits: SpliceLimits,
    private readonly release: () => void,
    private readonly warn: (message: string) => void,
  ) {
    this.timer = setTimeout(() => this.abandon(), CIRCUIT_ACCEPT_TIMEOUT_MS * 2);
  }

  /** `connection` null: the session could not hand it over (its peer sent more after its request): no circuit. */
  join(side: "dialler" | "edge", connection: CircuitEnd | null): void {
    if (connection === null) return this.abandon();
    this.ends[side] = connection;
    connection.divert({ data: (chunk) => (this.early[side].push(chunk.slice()), connection.pauseReading()), drained: () => {} });
    const { dialler, edge } = this.ends;
    if (!dialler || !edge) return;
    clearTimeout(this.timer);
    const circuit = splice(dialler, edge, this.limits);
    if (this.early.dialler.length > 0) edge.write(this.early.dialler);
    if (this.early.edge.length > 0) dialler.write(this.early.edge);
    dialler.resumeReading();
    edge.resumeReading();
    void circuit.ended.then((reason) => {
      this.free();
      if (reason?.message.includes("cap")) this.warn(`circuit cut: ${reason.message}`);
    });
  }

  /** The circuit never opened: whichever end arrived is closed, and its counts given back. */
  abandon(): void {
    clearTimeout(this.timer);
    this.ends.dialler?.destroy();
    this.ends.edge?.destroy();
    this.free();
  }

  private free(): void {
    if (this.released) return;
    this.released = true;
    this.release();
  }
}

