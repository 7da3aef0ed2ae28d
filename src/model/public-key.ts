// How a node's Ed25519 public key is spelled wherever it travels.

/** An Ed25519 public key on the wire: its 32 raw bytes as 64 lowercase hex digits. */
export const PUBLIC_KEY_PATTERN = /^[0-9a-f]{64}$/;
