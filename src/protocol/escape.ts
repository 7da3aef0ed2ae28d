// Percent-encoding of request arguments, so a file name with spaces, CR/LF or any UTF-8 travels as one token.

import { P2PError } from "./errors";

/**
 * Encodes one argument. Plain tokens (ids, addresses, numbers) pass unchanged,
 * so the original design's requests (`JOIN 123 127.0.0.2`) are already valid.
 */
export function encodeArg(value: string): string {
  return encodeURIComponent(value);
}

/** Decodes one argument; a broken escape is the sender's fault, so it is MALFORMED. */
export function decodeArg(token: string): string {
  try {
    return decodeURIComponent(token);
  } catch {
    throw new P2PError("MALFORMED", `argument '${token.slice(0, 64)}' has a broken %-escape`);
  }
}
