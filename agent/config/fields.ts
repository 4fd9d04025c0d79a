// What the config's section parsers share: the error of one field (its path first), turned into a
// ConfigError by the caller, and the mapping check.

export class FieldError extends Error {}

export type Obj = Record<string, unknown>;

/** The mapping at `path`; an absent one is empty. */
export function mapping(v: unknown, path: string): Obj {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FieldError(`${path}: must be a mapping`);
  return v as Obj;
}
