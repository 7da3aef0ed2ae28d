// What a valid shared name is: a name, never a path.

import { P2PError } from "../protocol/errors";

/** Longest shared name, in UTF-8 bytes (a common file-system limit). */
export const MAX_NAME_BYTES = 255;

/** A name is a name, never a path: no '/', no '..', no NUL or control characters. */
export function checkShareName(name: string): string {
  if (name.length === 0 || name.trim().length === 0) throw new P2PError("MALFORMED", "a shared name cannot be empty");
  if (new TextEncoder().encode(name).length > MAX_NAME_BYTES) {
    throw new P2PError("MALFORMED", `shared name is over ${MAX_NAME_BYTES} bytes`);
  }
  if (name.includes("/") || name.includes("\\")) throw new P2PError("MALFORMED", `'${name}' is a path; a shared name cannot contain '/' or '\\'`);
  if (name === "." || name === "..") throw new P2PError("MALFORMED", `a shared name cannot be '${name}' (it means a folder, not a file)`);
  if (name.includes("..")) throw new P2PError("MALFORMED", `shared name '${name}' cannot contain '..'`);
  // biome-ignore lint: control characters are exactly what this rejects
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new P2PError("MALFORMED", "a shared name cannot contain NUL or control characters");
  return name;
}
