// Holds a connection still between the last frame of one role and the first of the other: counts frames down, keeps the bytes after.

/**
 * What a connection keeps while it holds still for a change of role: the rest of the read that carried the
 * old role's last frame (the other side may already send in its new role) and at most one read after it,
 * since reading pauses at once. A body-carrying request may be in it, so this is a chunk's size, not a line's.
 */
export const MAX_HELD_BYTES = 2 * 1024 * 1024;

export class RoleHold {
  /** Frames still to decode before holding still; null when no change of role is planned. */
  private framesLeft: number | null = null;
  private held: Uint8Array[] = [];
  private heldBytes = 0;

  /** Plans a hold after `frames` more complete frames. */
  arm(frames: number): void {
    this.framesLeft = frames;
  }

  /** How many frames the decoder may still deliver (all of them when no change is planned). */
  get allowance(): number {
    return this.framesLeft ?? Number.POSITIVE_INFINITY;
  }

  /** True once the last frame of the old role has been decoded. */
  get holding(): boolean {
    return this.framesLeft === 0;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  /** Counts decoded frames; true when this count reached the hold. */
  counted(frames: number): boolean {
    if (this.framesLeft === null || frames === 0) return false;
    this.framesLeft -= frames;
    return this.framesLeft === 0;
  }

  /** Keeps a copy of bytes for the next role; false (nothing kept) when that would pass MAX_HELD_BYTES. */
  keep(bytes: Uint8Array): boolean {
    if (bytes.length === 0) return true;
    if (this.heldBytes + bytes.length > MAX_HELD_BYTES) return false;
    this.heldBytes += bytes.length;
    this.held.push(bytes.slice());
    return true;
  }

  /** Ends the hold and hands back what was kept, in arrival order. */
  release(): Uint8Array[] {
    const held = this.held;
    this.framesLeft = null;
    this.held = [];
    this.heldBytes = 0;
    return held;
  }
}
