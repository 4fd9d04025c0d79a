// Small reusable attribute validators. The framework calls them only for known, non-null values
// (config may hold unknowns at validate time; those are checked again at plan time).

import { asNumber, numberText } from './cty.js';
import type { Value } from './cty.js';
import { attributeError } from './diagnostics.js';
import type { Diagnostic, Path } from './diagnostics.js';

export type Validator = (value: Value, path: Path) => Diagnostic[];

export const oneOf =
  (...allowed: readonly string[]): Validator =>
  (v, path) =>
    typeof v === 'string' && !allowed.includes(v)
      ? [attributeError(path, 'Invalid value', `${JSON.stringify(v)} is not one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}.`)]
      : [];

export const matches =
  (re: RegExp, what: string): Validator =>
  (v, path) =>
    typeof v === 'string' && !re.test(v) ? [attributeError(path, 'Invalid value', `${JSON.stringify(v)} is not ${what}.`)] : [];

export const intBetween =
  (min: number, max: number): Validator =>
  (v, path) => {
    const n = asNumber(v);
    if (n === undefined) return [];
    if (!Number.isInteger(n) || n < min || n > max) {
      return [attributeError(path, 'Invalid value', `Must be a whole number from ${min} to ${max}; got ${numberText(v as number)}.`)];
    }
    return [];
  };
