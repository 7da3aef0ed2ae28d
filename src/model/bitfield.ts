// One bit per chunk: which chunks a download has on disk, or a peer says it has; the same bytes travel in GET_HAVE.

export class Bitfield {
  readonly size: number;
  readonly bytes: Uint8Array;

  /** `bytes`, when given, is taken as it is (not copied); bits past `size` are ignored. */
  constructor(size: number, bytes?: Uint8Array) {
    this.size = size;
    this.bytes = bytes ?? new Uint8Array(Bitfield.byteLength(size));
  }

  static byteLength(size: number): number {
    return Math.ceil(size / 8);
  }

  has(index: number): boolean {
    return (this.bytes[index >> 3]! & (1 << (index & 7))) !== 0;
  }

  set(index: number): void {
    this.bytes[index >> 3] = this.bytes[index >> 3]! | (1 << (index & 7));
  }

  clear(index: number): void {
    this.bytes[index >> 3] = this.bytes[index >> 3]! & ~(1 << (index & 7));
  }

  count(): number {
    let count = 0;
    for (let index = 0; index < this.size; index++) if (this.has(index)) count++;
    return count;
  }

  /** Whether any chunk is in both. */
  intersects(other: Bitfield): boolean {
    const length = Math.min(this.bytes.length, other.bytes.length);
    for (let at = 0; at < length; at++) if ((this.bytes[at]! & other.bytes[at]!) !== 0) return true;
    return false;
  }

  *indices(): Generator<number> {
    for (let index = 0; index < this.size; index++) if (this.has(index)) yield index;
  }

  copy(): Bitfield {
    return new Bitfield(this.size, this.bytes.slice());
  }
}

/** A holder's availability: `have` null means it has every chunk. */
export interface HaveReport {
  version: number;
  have: Bitfield | null;
}
