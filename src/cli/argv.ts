// Strict command-line parsing over citty's command definitions: options in any position, unknown ones refused with "did you mean".

import type { ArgDef, CommandDef } from "citty";
import { P2PError } from "../protocol/errors";

/** A parsed command line: the chain of commands from the root to the one that runs, and its arguments. */
export interface ParsedLine {
  path: AnyCommand[];
  names: string[];
  args: Record<string, unknown> & { _: string[] };
  help: boolean;
  version: boolean;
}

// Each command's argument types differ; the parser only reads their definitions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = CommandDef<any>;

/** A positional that takes every remaining word (e.g. search terms), marked in its definition. */
export type VariadicArg = { variadic?: boolean };

/** Longest command line looked at, so a runaway argv cannot loop for long. */
const MAX_TOKENS = 1_000;

/** Parses argv against `root`: every option may come before or after the sub-command; anything unknown is a usage error. */
export async function parseLine(root: AnyCommand, argv: readonly string[]): Promise<ParsedLine> {
  if (argv.length > MAX_TOKENS) throw usage(`too many arguments (${argv.length}, at most ${MAX_TOKENS})`, []);
  const path: AnyCommand[] = [root];
  const names: string[] = [];
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  let help = false;
  let version = false;
  let optionsEnded = false;
  for (let index = 0; index < argv.length; index++) {
    const token = argv[index]!;
    const command = path[path.length - 1]!;
    if (!optionsEnded && token === "--") {
      optionsEnded = true;
      continue;
    }
    if (!optionsEnded && token.startsWith("-") && token !== "-") {
      if (token === "-h" || token === "--help") {
        help = true;
        continue;
      }
      if (token === "--version" || token === "-V") {
        version = true;
        continue;
      }
      const equals = token.indexOf("=");
      const name = (equals >= 0 ? token.slice(0, equals) : token).replace(/^--?/, "");
      const inline = equals >= 0 ? token.slice(equals + 1) : undefined;
      const options = await optionsOf(command);
      let def = options[name];
      let negated = false;
      if (!def && name.startsWith("no-") && options[name.slice(3)]?.type === "boolean") {
        def = options[name.slice(3)];
        negated = true;
      }
      if (!def) {
        if (help) continue; // `--help` already asked for: show it rather than complain
        throw usage(`unknown option '${token.slice(0, 80)}'${suggest(name, Object.keys(options), "--")}`, names);
      }
      const key = negated ? name.slice(3) : name;
      if (def.type === "boolean") {
        if (inline !== undefined && inline !== "true" && inline !== "false") throw usage(`--${key} takes no value (got '${inline.slice(0, 80)}')`, names);
        values[key] = negated ? false : inline !== "false";
        continue;
      }
      const value = inline ?? argv[++index];
      if (value === undefined) throw usage(`--${key} needs a value`, names);
      // An empty name, path or address is never what was meant (`--out ""` would write to the current folder).
      if (value.trim().length === 0) throw usage(`--${key} is empty: give it ${def.valueHint ? `${/^[aeiou]/i.test(def.valueHint) ? "an" : "a"} ${def.valueHint}` : "a value"}`, names);
      if (def.type === "enum" && !(def.options ?? []).includes(value)) {
        throw usage(`invalid --${key} '${value.slice(0, 80)}': expected ${(def.options ?? []).join(", ")}`, names);
      }
      values[key] = value;
      continue;
    }
    const subCommands = await subCommandsOf(command);
    if (!optionsEnded && subCommands && positionals.length === 0 && Object.keys(positionalsOf(command)).length === 0) {
      const next = subCommands[token];
      if (!next) {
        if (help) continue;
        throw usage(`unknown command '${token.slice(0, 80)}'${suggest(token, Object.keys(subCommands), "")}`, names);
      }
      path.push(await resolveValue(next));
      names.push(token);
      continue;
    }
    positionals.push(token);
  }
  const command = path[path.length - 1]!;
  const args: Record<string, unknown> & { _: string[] } = { _: positionals };
  const defs = await argsOf(command);
  for (const [name, def] of Object.entries(defs)) {
    if (def.type !== "positional" && def.default !== undefined) args[name] = def.default;
    if (def.type === "boolean" && def.default === undefined) args[name] = false;
  }
  Object.assign(args, values);
  if (!help && !version) assignPositionals(positionalsOf(command, defs), positionals, args, names);
  return { path, names, args, help, version };
}

/** The line a user sees for a usage error: what is wrong and how to get help. */
export function usage(message: string, names: readonly string[]): P2PError {
  return new P2PError("MALFORMED", `${message} (see: p2p ${[...names, "--help"].join(" ")})`);
}

/** " (did you mean --host?)" when one known word is close to what was typed, else "". */
export function suggest(typed: string, known: readonly string[], prefix: string): string {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(typed.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(1, Math.floor(typed.length / 3));
  return best !== null && bestDistance <= limit ? `; did you mean ${prefix}${best}?` : "";
}

/** Levenshtein distance, with a transposition counted as one edit ("lsit" is one from "list"). */
export function editDistance(a: string, b: string): number {
  if (a.length > 200 || b.length > 200) return Math.max(a.length, b.length);
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

export async function argsOf(command: AnyCommand): Promise<Record<string, ArgDef>> {
  return ((await resolveValue(command.args)) ?? {}) as Record<string, ArgDef>;
}

export async function optionsOf(command: AnyCommand): Promise<Record<string, ArgDef>> {
  return Object.fromEntries(Object.entries(await argsOf(command)).filter(([, def]) => def.type !== "positional"));
}

export async function subCommandsOf(command: AnyCommand): Promise<Record<string, unknown> | null> {
  const subCommands = (await resolveValue(command.subCommands)) as Record<string, unknown> | undefined;
  return subCommands && Object.keys(subCommands).length > 0 ? subCommands : null;
}

export async function resolveValue<T>(value: T | (() => T | Promise<T>) | Promise<T>): Promise<T> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

function positionalsOf(command: AnyCommand, defs?: Record<string, ArgDef>): Record<string, ArgDef> {
  const all = defs ?? ((typeof command.args === "object" ? command.args : {}) as Record<string, ArgDef>);
  return Object.fromEntries(Object.entries(all).filter(([, def]) => def.type === "positional"));
}

function assignPositionals(defs: Record<string, ArgDef>, words: string[], args: Record<string, unknown>, names: readonly string[]): void {
  const entries = Object.entries(defs);
  let index = 0;
  for (const [name, def] of entries) {
    if ((def as VariadicArg).variadic) {
      args[name] = words.slice(index).join(" ");
      if (index >= words.length && def.required) throw usage(`missing <${name}>: ${def.description ?? name}`, names);
      index = words.length;
      continue;
    }
    const word = words[index];
    if (word === undefined) {
      if (def.required && def.default === undefined) throw usage(`missing <${name}>: ${def.description ?? name}`, names);
      if (def.default !== undefined) args[name] = def.default;
      continue;
    }
    // `upload ""` would share the current folder and `cancel ""` match nothing: an empty word is a usage error.
    if (word.trim().length === 0) throw usage(`<${name}> is empty: ${def.description ?? name}`, names);
    args[name] = word;
    index++;
  }
  if (index < words.length) throw usage(`unexpected argument '${words[index]!.slice(0, 80)}'`, names);
}
