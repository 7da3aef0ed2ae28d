// Reading a file in order from a starting chunk, for downloads that know only complete holders: disks stay sequential.

export class InOrderReading {
  private readonly chunkCount: number;
  /** Where in-order reading starts: it goes on to the last chunk, then wraps round to chunk 0. */
  private readonly first: number;
  /** Position of the lowest chunk that may still be missing. */
  private from = 0;

  constructor(chunkCount: number, first: number) {
    this.chunkCount = chunkCount;
    this.first = first;
  }

  /** The first chunk in order (from `first`) that `isWanted`, if any. */
  next(isWanted: (index: number) => boolean): number | undefined {
    while (this.from < this.chunkCount && !isWanted(this.chunkAt(this.from))) this.from++;
    for (let position = this.from; position < this.chunkCount; position++) if (isWanted(this.chunkAt(position))) return this.chunkAt(position);
    return undefined;
  }

  /** The chunk is wanted again (its requests failed): reading in order goes back to it. */
  rewind(index: number): void {
    const position = this.positionOf(index);
    if (position < this.from) this.from = position;
  }

  private chunkAt(position: number): number {
    return (this.first + position) % this.chunkCount;
  }

  private positionOf(index: number): number {
    return (index - this.first + this.chunkCount) % this.chunkCount;
  }
}
