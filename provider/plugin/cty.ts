// The cty type system as terraform speaks it on the wire, and the JavaScript values the codec
// produces for it.

export type PrimitiveType = 'string' | 'number' | 'bool';
export type CtyType =
  | PrimitiveType
  | 'dynamic'
  | { readonly kind: 'list' | 'set' | 'map'; readonly element: CtyType }
  | { readonly kind: 'object'; readonly attributes: { readonly [name: string]: CtyType } }
  | { readonly kind: 'tuple'; readonly elements: readonly CtyType[] };

/** Type constructors, so that schemas read like terraform's own. */
export const t = {
  string: 'string',
  number: 'number',
  bool: 'bool',
  dynamic: 'dynamic',
  list: <E extends CtyType>(element: E) => ({ kind: 'list', element }) as const,
  set: <E extends CtyType>(element: E) => ({ kind: 'set', element }) as const,
  map: <E extends CtyType>(element: E) => ({ kind: 'map', element }) as const,
  object: <A extends { readonly [name: string]: CtyType }>(attributes: A) => ({ kind: 'object', attributes }) as const,
  tuple: <E extends readonly CtyType[]>(...elements: E) => ({ kind: 'tuple', elements }) as const,
} as const;

/** A value not known until apply. One instance; compare with isUnknown. */
export class Unknown {
  static readonly instance = new Unknown();
  private constructor() {}
  toJSON(): string {
    return '<unknown>';
  }
}
export const unknown = Unknown.instance;
export const isUnknown = (v: unknown): v is Unknown => v === Unknown.instance;

/**
 * A number that neither float64 nor int64 holds exactly (terraform sends e.g. 0.1 as the string
 * "0.1"). Kept as its decimal text so that it goes back unchanged: a rounded plan is rejected.
 */
export class Decimal {
  constructor(readonly text: string) {}
  toNumber(): number {
    return Number(this.text);
  }
  toJSON(): string {
    return this.text;
  }
}

/** A value of a `dynamic` attribute, which carries its concrete type with it. */
export class Dynamic {
  constructor(
    readonly type: CtyType,
    readonly value: Value,
  ) {}
}

export type NumberValue = number | bigint | Decimal;
/** Objects and maps; created without a prototype so any key is safe. */
export interface ValueRecord {
  [key: string]: Value;
}
export type Value = null | Unknown | string | boolean | NumberValue | Value[] | ValueRecord | Dynamic;

export function record(entries: Iterable<readonly [string, Value]> = []): ValueRecord {
  const r = Object.create(null) as ValueRecord;
  for (const [k, v] of entries) r[k] = v;
  return r;
}

export const isRecord = (v: Value | undefined): v is ValueRecord =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Unknown) && !(v instanceof Decimal) && !(v instanceof Dynamic);

// ---- type JSON: the form terraform uses in schemas and dynamic values ----

export type TypeJson = string | [string, unknown];

export function typeToJson(type: CtyType): TypeJson {
  if (typeof type === 'string') return type;
  switch (type.kind) {
    case 'list':
    case 'set':
    case 'map':
      return [type.kind, typeToJson(type.element)];
    case 'object':
      return ['object', Object.fromEntries(Object.entries(type.attributes).map(([k, v]) => [k, typeToJson(v)]))];
    case 'tuple':
      return ['tuple', type.elements.map(typeToJson)];
  }
}

export function typeFromJson(json: unknown): CtyType {
  if (json === 'string' || json === 'number' || json === 'bool' || json === 'dynamic') return json;
  if (Array.isArray(json) && json.length >= 2) {
    const [kind, arg] = json as [unknown, unknown];
    if ((kind === 'list' || kind === 'set' || kind === 'map') && json.length === 2) return { kind, element: typeFromJson(arg) };
    // A third element lists optional attributes (type constraints only); the type is the same.
    if (kind === 'object' && typeof arg === 'object' && arg !== null && !Array.isArray(arg)) {
      const attributes = Object.create(null) as Record<string, CtyType>;
      for (const [k, v] of Object.entries(arg)) attributes[k] = typeFromJson(v);
      return { kind, attributes };
    }
    if (kind === 'tuple' && Array.isArray(arg) && json.length === 2) return { kind, elements: arg.map(typeFromJson) };
  }
  throw new Error(`invalid cty type JSON: ${JSON.stringify(json)}`);
}

export function typeEquals(a: CtyType, b: CtyType): boolean {
  return JSON.stringify(typeToJson(a)) === JSON.stringify(typeToJson(b));
}

// ---- value helpers ----

/** Canonical text of a number, for comparison across representations (large floats are exact integers). */
export function numberText(n: NumberValue): string {
  if (n instanceof Decimal) return n.text;
  if (typeof n === 'number' && Number.isInteger(n) && !Number.isSafeInteger(n)) return BigInt(n).toString();
  return Object.is(n, -0) ? '0' : String(n);
}

export function isNumberValue(v: Value | undefined): v is NumberValue {
  return typeof v === 'number' || typeof v === 'bigint' || v instanceof Decimal;
}

/** A number value as a JavaScript number (large or precise ones approximately); undefined for anything else. */
export const asNumber = (v: Value | undefined): number | undefined =>
  typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : v instanceof Decimal ? v.toNumber() : undefined;

/** Structural equality; unknown equals only unknown. Sets compare as arrays (same order). */
export function valueEquals(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (a === null || b === null || isUnknown(a) || isUnknown(b)) return false;
  if (isNumberValue(a) && isNumberValue(b)) return numberText(a) === numberText(b);
  if (a instanceof Dynamic || b instanceof Dynamic) {
    return a instanceof Dynamic && b instanceof Dynamic && typeEquals(a.type, b.type) && valueEquals(a.value, b.value);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => valueEquals(x, b[i] as Value));
  }
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && valueEquals(a[k] as Value, b[k] as Value));
  }
  return false;
}

/** True when the value is unknown or holds an unknown anywhere inside. */
export function containsUnknown(v: Value): boolean {
  if (isUnknown(v)) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v instanceof Dynamic) return containsUnknown(v.value);
  if (isRecord(v)) return Object.values(v).some(containsUnknown);
  return false;
}

// ---- static typing: the JavaScript shape of a value of a cty type ----

/** Known value of type T (nulls allowed only where the type's container says so). */
export type ValueOf<T extends CtyType> = T extends 'string'
  ? string
  : T extends 'number'
    ? NumberValue
    : T extends 'bool'
      ? boolean
      : T extends 'dynamic'
        ? Dynamic | null
        : T extends { kind: 'list' | 'set'; element: infer E extends CtyType }
          ? (ValueOf<E> | null)[]
          : T extends { kind: 'map'; element: infer E extends CtyType }
            ? { [key: string]: ValueOf<E> | null }
            : T extends { kind: 'object'; attributes: infer A extends { readonly [name: string]: CtyType } }
              ? { [K in keyof A]: ValueOf<A[K]> | null }
              : T extends { kind: 'tuple'; elements: infer E extends readonly CtyType[] }
                ? { [I in keyof E]: E[I] extends CtyType ? ValueOf<E[I]> | null : never }
                : Value;

/** A value as config and plans hold it: unknown may stand anywhere. */
export type Unknowable<V> = V extends null
  ? null
  : V extends Dynamic | NumberValue | string | boolean
    ? V | Unknown
    : V extends (infer E)[]
      ? Unknowable<E>[] | Unknown
      : V extends object
        ? { [K in keyof V]: Unknowable<V[K]> } | Unknown
        : V | Unknown;

/** A value with every unknown ruled out (what apply-time handlers read from plans). */
export type Known<V> = V extends Unknown
  ? never
  : V extends Dynamic | NumberValue | string | boolean | null
    ? V
    : V extends (infer E)[]
      ? Known<E>[]
      : V extends object
        ? { [K in keyof V]: Known<V[K]> }
        : V;

/** The value itself, or an error naming `what` when it (or something inside) is still unknown. */
export function known<V>(value: V, what = 'value'): Known<V> {
  if (containsUnknown(value as Value)) throw new Error(`${what} is unknown; it must be known at this point`);
  return value as Known<V>;
}

/** The value, or `fallback` when it is unknown (e.g. a computed attribute the handler fills in). */
export function knownOr<V, F>(value: V, fallback: F): Known<V> | F {
  return isUnknown(value) ? fallback : (value as Known<V>);
}
