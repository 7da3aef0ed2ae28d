// Headless Chromium for the web page's tests: Debian's /usr/bin/chromium driven by puppeteer-core. Missing in CI is a failure, elsewhere a skip.

import { existsSync } from "node:fs";
import puppeteer, { type Browser } from "puppeteer-core";

export const CHROMIUM = process.env.P2P_CHROMIUM ?? "/usr/bin/chromium";

/** Why browser tests cannot run here (a one-line skip reason), or null when they can. Throws in CI: a missing browser is a failure there. */
export function browserMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const reason = `no Chromium at ${CHROMIUM} (apt-get install chromium, or set P2P_CHROMIUM)`;
  if (process.env.CI === "true") throw new Error(`${reason}: browser tests may not skip in CI`);
  return reason;
}

export function launchBrowser(): Promise<Browser> {
  const args = ["--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"];
  // Chromium refuses to run as root with its sandbox on.
  if (process.getuid?.() === 0) args.push("--no-sandbox");
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args, timeout: 60_000 });
}
