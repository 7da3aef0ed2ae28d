// The commands the docs tell a user to type work on a fresh machine: npm puts Bun in node_modules/.bin only, so
// every Bun command goes through `npx bun` or an npm script, and what they name exists.

import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import packageJson from "../../package.json";
import { DOCUMENTS, codeBlocks, linkTargets, literals, readDocument, runAsDocumented } from "../helpers/docs";
import { REPO_ROOT } from "../helpers/processes";
import { tempDir } from "../helpers/wait";

const scripts: Record<string, string> = packageJson.scripts;

/** Each place in the docs that runs Bun without npx: "README.md: `bun test`". */
function bareBunCommands(): string[] {
  const found: string[] = [];
  for (const document of DOCUMENTS) {
    for (const literal of literals(readDocument(document))) {
      for (const match of literal.matchAll(/(?<![\w./@-])bun (?=\S)/g)) {
        if (literal.slice(Math.max(0, match.index - 4), match.index) !== "npx ") found.push(`${document}: \`${literal}\``);
      }
    }
  }
  return found;
}

describe("the commands in README.md, BENCHMARKS.md and docs/", () => {
  test("never run a bare bun, which a fresh machine does not have on its PATH", () => {
    expect(bareBunCommands()).toEqual([]);
  });

  test("name only npm scripts of package.json and files of the repository", () => {
    const missing: string[] = [];
    let checked = 0;
    for (const document of DOCUMENTS) {
      for (const literal of literals(readDocument(document))) {
        for (const [, name] of literal.matchAll(/\bnpm run ([\w-]+(?::[\w-]+)*)/g)) {
          checked++;
          if (!(name! in scripts)) missing.push(`${document}: npm run ${name}`);
        }
        if (/\bnpm test\b/.test(literal) && !("test" in scripts)) missing.push(`${document}: npm test`);
        for (const [, words] of literal.matchAll(/\bnpx bun ((?:[^\s&|;#]+ ?)+)/g)) {
          const [first, ...rest] = words!.trim().split(" ");
          // `npx bun test a b` names test files or folders; `npx bun scripts/x.ts --flag` names one script.
          const paths = first === "test" ? rest.filter((word) => !word.startsWith("-")) : [first!];
          for (const path of paths) {
            checked++;
            if (!existsSync(join(REPO_ROOT, path))) missing.push(`${document}: npx bun ${words!.trim()} (no ${path})`);
          }
        }
      }
    }
    expect(missing).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });

  test("README sets up a fresh machine with exactly npm install && npm run demo, and npm install && npm test", () => {
    const readme = readDocument("README.md");
    const section = readme.slice(readme.indexOf("## Set up on a fresh machine"));
    const commands = codeBlocks(section)[0]!.lines.map((line) => line.replace(/#.*$/, "").trim()).filter(Boolean);
    expect(commands).toEqual(["npm install && npm run demo", "npm install && npm test"]);
    // "npm brings Bun itself": Bun comes from npm, and the scripts run it from node_modules/.bin.
    expect(packageJson.devDependencies.bun).toBeDefined();
    expect(scripts.demo).toBeDefined();
    expect(scripts.test).toBeDefined();
  });

  test("every relative link and path stays inside the repository and exists", () => {
    const outside: string[] = [];
    for (const document of DOCUMENTS) {
      const text = readDocument(document);
      const base = join(REPO_ROOT, document, "..");
      const relativeTargets = linkTargets(text).filter((target) => !/^[a-z]+:|^#/.test(target));
      const climbing = literals(text).flatMap((literal) => [...literal.matchAll(/(?:^|[\s(`])(\.\.\/[^\s`),;]*)/g)].map((match) => match[1]!));
      for (const target of [...relativeTargets, ...climbing]) {
        const path = resolve(base, target.replace(/#.*$/, ""));
        if (relative(REPO_ROOT, path).startsWith("..") || !existsSync(path)) outside.push(`${document}: ${target}`);
      }
    }
    expect(outside).toEqual([]);
  });
});

describe("documented commands run as written", () => {
  test("npm test ends with the summary line README describes, naming skipped tests too", async () => {
    const readme = readDocument("README.md");
    const sentence = /`npm test` ends with a line[^\n]*/.exec(readme)?.[0] ?? "";
    const forms = [...sentence.matchAll(/`(N passed[^`]*)`/g)].map((match) => new RegExp(`^${match[1]!.replace(/N/g, "\\d+")}$`));
    expect(forms.length).toBeGreaterThan(0);
    // One passing and one skipped test: the summary must be one of the documented forms.
    const run = await runAsDocumented(["npm", "test", "--", "./test/fixtures/docs/summary.fixture.ts"]);
    expect(run.code).toBe(0);
    const last = run.stdout.trimEnd().split("\n").pop()!;
    expect(last).toBe("1 passed, 0 failed, 1 skipped");
    expect(forms.some((form) => form.test(last))).toBe(true);
  }, 60_000);

  test("npm run cluster accepts as many nodes as README says, and no more", async () => {
    const said = /npm run cluster -- --nodes \d+ +# a local network of up to (\d+) nodes/.exec(readDocument("README.md"));
    expect(said).not.toBeNull();
    // A count no limit would allow, on a base where no network could start anyway: the refusal names the limit.
    const dir = tempDir();
    const state = join(dir.path, "cluster-state.json");
    const run = await runAsDocumented(["npm", "run", "--silent", "cluster", "--", "--nodes", "999999999", "--base", "127.0.0.250", "--state", state]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`expected a whole number from 1 to ${said![1]}`);
    expect(existsSync(state)).toBe(false);
    dir.remove();
  }, 60_000);
});
