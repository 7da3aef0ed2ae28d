// Checks that a JSON reply has the fields its reader uses, with their types: a node of another p2p version is then one clear error, not a crash while rendering.

import { P2PError } from "../protocol/errors";

/**
 * A field's expected type: "string", "number", "boolean", "string[]", or a nested shape; `[shape]` for an
 * array of that type. A trailing "?" allows the field to be absent, "|null" (or the `nullable()` wrapper,
 * for a nested shape) allows null. Fields not named are not looked at: a newer node may add fields freely.
 */
export type FieldType = string | Shape | [FieldType] | { nullable: FieldType };
export interface Shape {
  [field: string]: FieldType;
}

export const nullable = (type: FieldType): FieldType => ({ nullable: type });

/** A peer as JSON replies carry it. */
export const PEER_SHAPE: Shape = { id: "string", address: "string" };

/**
 * `value` as a T once it has every field `shape` names with the right type; else an error naming the first
 * field that is not, for the reply `what` (e.g. "the node's STATUS reply"): "ERROR", since the command line
 * was right and the node's answer is what failed.
 */
export function checkShape<T>(value: unknown, shape: FieldType, what: string): T {
  const problem = mismatch(value, shape, "");
  if (problem !== null) {
    throw new P2PError("ERROR", `${what} ${problem}; the node may run another version of p2p: restart it with this binary`);
  }
  return value as T;
}

function mismatch(value: unknown, type: FieldType, path: string): string | null {
  const here = path === "" ? "the reply" : `'${path}'`;
  if (typeof type === "string") {
    if (type.endsWith("?")) return value === undefined ? null : mismatch(value, type.slice(0, -1), path);
    if (type.endsWith("|null")) return value === null ? null : mismatch(value, type.slice(0, -"|null".length), path);
    if (type.endsWith("[]")) return mismatch(value, [type.slice(0, -2)], path);
    return typeof value === type ? null : `has ${here} missing or not a ${type}`;
  }
  if (Array.isArray(type)) {
    if (!Array.isArray(value)) return `has ${here} missing or not a list`;
    for (let index = 0; index < value.length; index++) {
      const problem = mismatch(value[index], type[0], `${path}[${index}]`);
      if (problem !== null) return problem;
    }
    return null;
  }
  if ("nullable" in type && Object.keys(type).length === 1) return value === null ? null : mismatch(value, type.nullable as FieldType, path);
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `has ${here} missing or not an object`;
  for (const [field, fieldType] of Object.entries(type as Shape)) {
    const problem = mismatch((value as Record<string, unknown>)[field], fieldType, path === "" ? field : `${path}.${field}`);
    if (problem !== null) return problem;
  }
  return null;
}
