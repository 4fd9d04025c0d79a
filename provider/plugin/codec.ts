// cty values <-> msgpack (DynamicValue.msgpack) and JSON (stored state), driven by a type.

import { Decimal, Dynamic, isRecord, isUnknown, record, typeFromJson, typeToJson, unknown } from './cty.js';
import type { CtyType, NumberValue, Value, ValueRecord } from './cty.js';
import { Reader, Writer } from './msgpack.js';
import type { Head } from './msgpack.js';

export class CodecError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(path ? `${path}: ${message}` : message);
  }
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
const utf8 = new TextEncoder();
const utf8dec = new TextDecoder('utf-8', { fatal: true });

const join = (path: string, step: string | number): string => (typeof step === 'number' ? `${path}[${step}]` : path ? `${path}.${step}` : step);

const describe = (v: unknown): string => (v === undefined ? 'nothing' : Array.isArray(v) ? 'an array' : v instanceof Decimal ? 'a number' : typeof v);

// ---- encode ----

export function encodeValue(value: Value, type: CtyType): Uint8Array {
  const w = new Writer();
  writeValue(w, value, type, '');
  return w.finish();
}

function writeNumber(w: Writer, n: NumberValue, path: string): void {
  if (n instanceof Decimal) return w.str(n.text);
  if (typeof n === 'bigint') return n >= INT64_MIN && n <= UINT64_MAX ? w.int(n) : w.str(n.toString());
  if (Number.isNaN(n)) throw new CodecError(path, 'NaN is not a number terraform can hold');
  if (Number.isInteger(n) && n >= -(2 ** 63) && n < 2 ** 64) return w.int(BigInt(n));
  w.float64(n);
}

function writeValue(w: Writer, v: Value | undefined, type: CtyType, path: string): void {
  // An absent attribute is null: resources need not spell out every optional one.
  if (v === null || v === undefined) return w.nil();
  if (isUnknown(v)) return w.unknown();
  if (type === 'dynamic') {
    if (!(v instanceof Dynamic)) throw new CodecError(path, `a dynamic attribute needs a Dynamic value, got ${describe(v)}`);
    w.arrayHead(2);
    w.bin(utf8.encode(JSON.stringify(typeToJson(v.type))));
    return writeValue(w, v.value, v.type, path);
  }
  if (type === 'string') {
    if (typeof v !== 'string') throw new CodecError(path, `expected a string, got ${describe(v)}`);
    return w.str(v);
  }
  if (type === 'bool') {
    if (typeof v !== 'boolean') throw new CodecError(path, `expected a bool, got ${describe(v)}`);
    return w.bool(v);
  }
  if (type === 'number') {
    if (typeof v !== 'number' && typeof v !== 'bigint' && !(v instanceof Decimal)) {
      throw new CodecError(path, `expected a number, got ${describe(v)}`);
    }
    return writeNumber(w, v, path);
  }
  switch (type.kind) {
    case 'list':
    case 'set': {
      if (!Array.isArray(v)) throw new CodecError(path, `expected a ${type.kind}, got ${describe(v)}`);
      w.arrayHead(v.length);
      v.forEach((e, i) => writeValue(w, e, type.element, join(path, i)));
      return;
    }
    case 'tuple': {
      if (!Array.isArray(v) || v.length !== type.elements.length) {
        throw new CodecError(path, `expected a tuple of ${type.elements.length}, got ${describe(v)}`);
      }
      w.arrayHead(v.length);
      v.forEach((e, i) => writeValue(w, e, type.elements[i] as CtyType, join(path, i)));
      return;
    }
    case 'map': {
      if (!isRecord(v)) throw new CodecError(path, `expected a map, got ${describe(v)}`);
      const keys = Object.keys(v).sort();
      w.mapHead(keys.length);
      for (const k of keys) {
        w.str(k);
        writeValue(w, v[k], type.element, join(path, k));
      }
      return;
    }
    case 'object': {
      if (!isRecord(v)) throw new CodecError(path, `expected an object, got ${describe(v)}`);
      for (const k of Object.keys(v)) {
        if (!(k in type.attributes)) throw new CodecError(join(path, k), 'no such attribute in the schema');
      }
      // Every attribute is present, in name order like go-cty writes them.
      const names = Object.keys(type.attributes).sort();
      w.mapHead(names.length);
      for (const k of names) {
        w.str(k);
        writeValue(w, v[k], type.attributes[k] as CtyType, join(path, k));
      }
      return;
    }
  }
}

// ---- decode msgpack ----

export function decodeValue(bytes: Uint8Array, type: CtyType): Value {
  const r = new Reader(bytes);
  const v = readValue(r, r.next(), type, '');
  if (!r.done) throw new CodecError('', 'msgpack: trailing bytes after the value');
  return v;
}

/** Number text as go-cty writes it when neither int64 nor float64 holds it exactly. */
export function parseNumberText(s: string, path = ''): NumberValue {
  const text = s.trim();
  if (/^[-+]?\d+$/.test(text)) {
    const b = BigInt(text);
    return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  }
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return new Decimal(text);
  throw new CodecError(path, `not a number: ${JSON.stringify(s)}`);
}

function readString(h: Head, path: string): string {
  if (h.kind === 'str') return h.value;
  if (h.kind === 'bin') return utf8dec.decode(h.value);
  throw new CodecError(path, `expected a string, got msgpack ${h.kind}`);
}

function readValue(r: Reader, h: Head, type: CtyType, path: string): Value {
  if (h.kind === 'nil') return null;
  // Any extension is an unknown: ext 0 plain, ext 0x0C (tofu) with refinements we do not use.
  if (h.kind === 'ext') return unknown;
  if (type === 'dynamic') {
    if (h.kind !== 'array' || h.length !== 2) throw new CodecError(path, 'expected a [type, value] pair for a dynamic value');
    const concrete = typeFromJson(JSON.parse(readString(r.next(), path)));
    return new Dynamic(concrete, readValue(r, r.next(), concrete, path));
  }
  if (type === 'string') return readString(h, path);
  if (type === 'bool') {
    if (h.kind !== 'bool') throw new CodecError(path, `expected a bool, got msgpack ${h.kind}`);
    return h.value;
  }
  if (type === 'number') {
    if (h.kind === 'int' || h.kind === 'float') return h.value;
    if (h.kind === 'str') return parseNumberText(h.value, path);
    throw new CodecError(path, `expected a number, got msgpack ${h.kind}`);
  }
  switch (type.kind) {
    case 'list':
    case 'set':
    case 'tuple': {
      if (h.kind !== 'array') throw new CodecError(path, `expected a ${type.kind}, got msgpack ${h.kind}`);
      if (type.kind === 'tuple' && h.length !== type.elements.length) {
        throw new CodecError(path, `expected a tuple of ${type.elements.length}, got ${h.length} elements`);
      }
      const out: Value[] = [];
      for (let i = 0; i < h.length; i++) {
        const et = type.kind === 'tuple' ? (type.elements[i] as CtyType) : type.element;
        out.push(readValue(r, r.next(), et, join(path, i)));
      }
      return out;
    }
    case 'map':
    case 'object': {
      if (h.kind !== 'map') throw new CodecError(path, `expected a ${type.kind}, got msgpack ${h.kind}`);
      const attributes = type.kind === 'object' ? type.attributes : undefined;
      const out: ValueRecord = record();
      for (let i = 0; i < h.length; i++) {
        const k = readString(r.next(), path);
        const et = type.kind === 'object' ? type.attributes[k] : type.element;
        if (et === undefined) throw new CodecError(join(path, k), 'no such attribute in the schema');
        out[k] = readValue(r, r.next(), et, join(path, k));
      }
      if (attributes) for (const k of Object.keys(attributes)) if (!(k in out)) out[k] = null;
      return out;
    }
  }
}

// ---- decode JSON (stored state) ----

type Json = null | boolean | string | JsonNumber | Json[] | { [k: string]: Json };
/** A JSON number kept as its source text: state may hold numbers no float64 holds exactly. */
class JsonNumber {
  constructor(readonly text: string) {}
}

/** JSON.parse, except that numbers keep their text (Node 20 has no source access in revivers). */
export function parseJson(text: string): Json {
  let i = 0;
  const fail = (what: string): never => {
    throw new CodecError('', `invalid JSON at ${i}: ${what}`);
  };
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i] as string)) i++;
  };
  const value = (): Json => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const out = Object.create(null) as { [k: string]: Json };
      ws();
      if (text[i] === '}') return (i++, out);
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const k = str();
        ws();
        if (text[i++] !== ':') fail('expected :');
        out[k] = value();
        ws();
        const d = text[i++];
        if (d === '}') return out;
        if (d !== ',') fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      const out: Json[] = [];
      ws();
      if (text[i] === ']') return (i++, out);
      for (;;) {
        out.push(value());
        ws();
        const d = text[i++];
        if (d === ']') return out;
        if (d !== ',') fail('expected , or ]');
      }
    }
    if (c === '"') return str();
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/.exec(text.slice(i, i + 400));
    if (m) return ((i += m[0].length), new JsonNumber(m[0]));
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, i)) return ((i += word.length), v);
    }
    return fail('unexpected token');
  };
  const str = (): string => {
    // eslint-disable-next-line no-control-regex -- JSON strings may not hold raw U+0000–U+001F (RFC 8259), so the class names them
    const m = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(text.slice(i));
    if (!m) return fail('bad string');
    i += m[0].length;
    return JSON.parse(m[0]) as string;
  };
  const out = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return out;
}

export interface JsonDecodeOptions {
  /** Drop attributes the schema no longer has (state written by an older schema version). */
  ignoreUndefinedAttributes?: boolean;
}

export function decodeJsonValue(text: string | Uint8Array, type: CtyType, opts: JsonDecodeOptions = {}): Value {
  const src = typeof text === 'string' ? text : utf8dec.decode(text);
  return fromJson(parseJson(src), type, '', opts);
}

function fromJson(j: Json, type: CtyType, path: string, opts: JsonDecodeOptions): Value {
  if (j === null) return null;
  const bad = (what: string): never => {
    throw new CodecError(path, `expected ${what} in JSON`);
  };
  if (type === 'dynamic') {
    if (typeof j !== 'object' || j instanceof JsonNumber || Array.isArray(j) || !('type' in j) || !('value' in j)) {
      return bad('{"type", "value"} for a dynamic value');
    }
    const concrete = typeFromJson(toPlain(j.type));
    return new Dynamic(concrete, fromJson(j.value, concrete, path, opts));
  }
  if (type === 'string') return typeof j === 'string' ? j : bad('a string');
  if (type === 'bool') return typeof j === 'boolean' ? j : bad('a bool');
  if (type === 'number') {
    if (j instanceof JsonNumber) return parseJsonNumber(j.text, path);
    // cty writes numbers as JSON numbers, but accepts strings too.
    return typeof j === 'string' ? parseNumberText(j, path) : bad('a number');
  }
  switch (type.kind) {
    case 'list':
    case 'set':
      return Array.isArray(j) ? j.map((e, i) => fromJson(e, type.element, join(path, i), opts)) : bad(`a ${type.kind}`);
    case 'tuple':
      if (!Array.isArray(j) || j.length !== type.elements.length) return bad(`a tuple of ${type.elements.length}`);
      return j.map((e, i) => fromJson(e, type.elements[i] as CtyType, join(path, i), opts));
    case 'map': {
      if (typeof j !== 'object' || j instanceof JsonNumber || Array.isArray(j)) return bad('a map');
      return record(Object.entries(j).map(([k, e]) => [k, fromJson(e, type.element, join(path, k), opts)] as const));
    }
    case 'object': {
      if (typeof j !== 'object' || j instanceof JsonNumber || Array.isArray(j)) return bad('an object');
      const out = record();
      for (const [k, e] of Object.entries(j)) {
        const at = type.attributes[k];
        if (at === undefined) {
          if (opts.ignoreUndefinedAttributes) continue;
          throw new CodecError(join(path, k), 'no such attribute in the schema');
        }
        out[k] = fromJson(e, at, join(path, k), opts);
      }
      for (const k of Object.keys(type.attributes)) if (!(k in out)) out[k] = null;
      return out;
    }
  }
}

/** A JSON number: exact integers and exact binary fractions as numbers, the rest as decimals. */
function parseJsonNumber(text: string, path: string): NumberValue {
  if (/^-?\d+$/.test(text)) return parseNumberText(text, path);
  const n = Number(text);
  return isExactFloat(text, n) ? n : new Decimal(text);
}

/** Whether the decimal text denotes exactly the float64 n. */
export function isExactFloat(text: string, n: number): boolean {
  return Number.isFinite(n) && normaliseDecimal(text) === exactDecimal(n);
}

function exactDecimal(n: number): string {
  if (n === 0) return '0';
  const neg = n < 0;
  let x = Math.abs(n);
  let e = 0;
  while (!Number.isInteger(x)) {
    x *= 2;
    e++;
  }
  // m / 2^e = m * 5^e / 10^e: the digits of m * 5^e with the point e places from the right.
  let s = (BigInt(x) * 5n ** BigInt(e)).toString().padStart(e + 1, '0');
  s = e > 0 ? `${s.slice(0, s.length - e)}.${s.slice(s.length - e)}` : s;
  return (neg ? '-' : '') + normaliseDecimal(s);
}

/** Decimal text without exponent, leading zeros or trailing fractional zeros. */
function normaliseDecimal(text: string): string {
  const m = /^([-+]?)(\d*)\.?(\d*)(?:[eE]([-+]?\d+))?$/.exec(text);
  if (!m) return text;
  const [, sign, int = '', frac = '', exp = '0'] = m;
  let digits = int + frac;
  let point = int.length + Number(exp);
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits = digits + '0'.repeat(point - digits.length);
  const whole = digits.slice(0, point).replace(/^0+/, '') || '0';
  const fraction = digits.slice(point).replace(/0+$/, '');
  const body = fraction ? `${whole}.${fraction}` : whole;
  return sign === '-' && body !== '0' ? `-${body}` : body;
}

function toPlain(j: Json): unknown {
  if (j instanceof JsonNumber) return Number(j.text);
  if (Array.isArray(j)) return j.map(toPlain);
  if (j !== null && typeof j === 'object') return Object.fromEntries(Object.entries(j).map(([k, v]) => [k, toPlain(v)]));
  return j;
}
