// The web page's guard: a random token kept in the data dir (0600), checked on every request with the Host and Origin headers.

import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import { P2PError } from "../protocol/errors";

/** The cookie the token is kept in once the URL handed it over. */
export const TOKEN_COOKIE = "p2p_web_token";
/** Bytes of randomness in a new token (hex-encoded: twice as many characters). */
const TOKEN_BYTES = 24;
/** Shortest token accepted from a --web-token-file. */
const MIN_TOKEN_LENGTH = 16;

/** Reads the token file, creating it (0600) with a new random token when it does not exist. */
export function loadToken(path: string): string {
  if (!existsSync(path)) {
    const token = Buffer.from(crypto.getRandomValues(new Uint8Array(TOKEN_BYTES))).toString("hex");
    writeFileSync(path, `${token}\n`, { mode: 0o600 });
    return token;
  }
  chmodSync(path, 0o600);
  const token = readFileSync(path, "utf8").trim();
  if (token.length < MIN_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) {
    throw new P2PError("MALFORMED", `web token in ${path} must be at least ${MIN_TOKEN_LENGTH} printable characters with no spaces`);
  }
  return token;
}

/**
 * Why a request is refused (status and one line), or null when it may go on. Host must be an IP literal or
 * `localhost` with this server's port: DNS rebinding needs a name of the attacker's, so it never passes.
 */
export function refusal(request: Request, token: string, port: number): { status: number; message: string } | null {
  const host = (request.headers.get("host") ?? "").toLowerCase();
  if (!isOwnHost(host, port)) return { status: 421, message: `unknown Host '${host.slice(0, 80)}': open the page by its address` };
  const origin = request.headers.get("origin");
  // A cross-site request: a browser names the page that sent it, and that is not this page.
  if (origin !== null && originHost(origin) !== host) return { status: 403, message: `cross-site request from '${origin.slice(0, 80)}' refused` };
  const given = new URL(request.url).searchParams.get("token") ?? cookieToken(request.headers.get("cookie"));
  if (given === null) return { status: 401, message: "no token: open the URL that `p2p client web` prints" };
  if (!sameText(given, token)) return { status: 403, message: "wrong token: open the URL that `p2p client web` prints" };
  return null;
}

/** The Set-Cookie header that keeps the token for the page's later requests. */
export function tokenCookie(token: string): string {
  return `${TOKEN_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}

function isOwnHost(host: string, port: number): boolean {
  const colon = host.lastIndexOf(":");
  if (colon < 0 || host.slice(colon + 1) !== String(port)) return false;
  const name = host.slice(0, colon);
  if (name === "localhost") return true;
  const bare = name.startsWith("[") && name.endsWith("]") ? name.slice(1, -1) : name;
  return isIP(bare) !== 0;
}

function originHost(origin: string): string {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return "";
  }
}

function cookieToken(header: string | null): string | null {
  for (const part of (header ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === TOKEN_COOKIE) return value.join("=");
  }
  return null;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
