import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeJsonValue, decodeValue, encodeValue, isExactFloat, parseJson } from '../../../provider/plugin/codec.js';
import { Decimal, Dynamic, isUnknown, record, t, typeFromJson, typeToJson, unknown, valueEquals } from '../../../provider/plugin/cty.js';
import type { CtyType, Value } from '../../../provider/plugin/cty.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const roundTrip = (v: Value, type: CtyType): Value => decodeValue(encodeValue(v, type), type);

describe('msgpack encoding as go-cty writes it', () => {
  it('writes an object with every attribute, in name order, null for absent ones', () => {
    const type = t.object({ b: t.string, a: t.number });
    expect(hex(encodeValue(record([['b', 'x']]), type))).toBe('82' + 'a161' + 'c0' + 'a162' + 'a178');
  });

  it('writes unknown as d4 00 00 wherever it stands', () => {
    expect(hex(encodeValue(unknown, t.string))).toBe('d40000');
    expect(hex(encodeValue([unknown, 'a'], t.list(t.string)))).toBe('92d40000a161');
  });

  it('writes numbers as int when int64 holds them, float64 when exact, else decimal text', () => {
    expect(hex(encodeValue(5, t.number))).toBe('05');
    expect(hex(encodeValue(-33, t.number))).toBe('d0df');
    expect(hex(encodeValue(2 ** 40, t.number))).toBe('cf0000010000000000');
    expect(hex(encodeValue(1.5, t.number))).toBe('cb3ff8000000000000');
    expect(hex(encodeValue(new Decimal('0.1'), t.number))).toBe('a3302e31');
    expect(hex(encodeValue(2n ** 70n, t.number))).toBe(hex(encodeValue('1180591620717411303424', t.string)));
  });

  it('writes a dynamic value as [type JSON bytes, value]', () => {
    expect(hex(encodeValue(new Dynamic(t.string, 'x'), t.dynamic))).toBe('92' + 'c408' + Buffer.from('"string"').toString('hex') + 'a178');
  });

  it('rejects values that do not fit the type, naming where', () => {
    const type = t.object({ tags: t.map(t.number) });
    expect(() => encodeValue(record([['tags', record([['a', 'x']])]]), type)).toThrow(/tags\.a: expected a number/);
    expect(() => encodeValue(record([['nope', 1]]), type)).toThrow(/nope: no such attribute/);
    expect(() => encodeValue(Number.NaN, t.number)).toThrow(/NaN/);
  });
});

describe('msgpack decoding', () => {
  it('reads any integer width and float32', () => {
    expect(decodeValue(bytes('cc ff'), t.number)).toBe(255);
    expect(decodeValue(bytes('cd ff ff'), t.number)).toBe(65535);
    expect(decodeValue(bytes('d1 ff 00'), t.number)).toBe(-256);
    expect(decodeValue(bytes('d3 ff ff ff ff ff ff ff ff'), t.number)).toBe(-1);
    expect(decodeValue(bytes('cf ff ff ff ff ff ff ff ff'), t.number)).toBe(2n ** 64n - 1n);
    expect(decodeValue(bytes('d3 80 00 00 00 00 00 00 00'), t.number)).toBe(-(2n ** 63n));
    expect(decodeValue(bytes('ca 3f c0 00 00'), t.number)).toBe(1.5);
  });

  it('reads decimal strings as numbers, keeping inexact ones as text', () => {
    expect(decodeValue(encodeValue('42', t.string), t.number)).toBe(42);
    expect(decodeValue(encodeValue('123456789012345678901234567890', t.string), t.number)).toBe(123456789012345678901234567890n);
    const d = decodeValue(encodeValue('0.1', t.string), t.number);
    expect(d).toBeInstanceOf(Decimal);
    expect((d as Decimal).text).toBe('0.1');
    expect(() => decodeValue(encodeValue('ten', t.string), t.number)).toThrow(/not a number/);
  });

  it('reads any extension as unknown: plain, and tofu refined unknowns (0x0C)', () => {
    expect(isUnknown(decodeValue(bytes('d4 00 00'), t.string))).toBe(true);
    // ext 12 carrying a refinement map {1: false} ("not null")
    expect(isUnknown(decodeValue(bytes('c7 03 0c 81 01 c2'), t.string))).toBe(true);
    const v = decodeValue(bytes('82 a1 61 c7 03 0c 81 01 c2 a1 62 05'), t.object({ a: t.list(t.string), b: t.number }));
    expect(isUnknown((v as Record<string, Value>).a)).toBe(true);
    expect((v as Record<string, Value>).b).toBe(5);
  });

  it('reads strings sent as bin, and fills attributes missing from an object with null', () => {
    expect(decodeValue(bytes('c4 01 78'), t.string)).toBe('x');
    const v = decodeValue(bytes('81 a1 61 01'), t.object({ a: t.number, b: t.string })) as Record<string, Value>;
    expect(v.b).toBeNull();
  });

  it('keeps map keys such as __proto__ as plain data', () => {
    const m = record([
      ['__proto__', 'x'],
      ['constructor', 'y'],
    ]);
    const back = roundTrip(m, t.map(t.string)) as Record<string, Value>;
    expect(Object.keys(back).sort()).toEqual(['__proto__', 'constructor']);
    expect(back.__proto__).toBe('x');
  });

  it('rejects truncated input and trailing bytes', () => {
    expect(() => decodeValue(bytes('92 01'), t.list(t.number))).toThrow(/truncated/);
    expect(() => decodeValue(bytes('01 02'), t.number)).toThrow(/trailing/);
  });
});

// ---- properties ----

const typeArb: fc.Arbitrary<CtyType> = fc.letrec<{ type: CtyType }>((tie) => ({
  type: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom<CtyType>('string', 'number', 'bool', 'dynamic'),
    tie('type').map((e) => t.list(e)),
    tie('type').map((e) => t.set(e)),
    tie('type').map((e) => t.map(e)),
    fc.dictionary(fc.stringMatching(/^[a-z_][a-z0-9_]{0,6}$/), tie('type'), { maxKeys: 4 }).map((a) => t.object(a)),
    fc.array(tie('type'), { maxLength: 3 }).map((es) => t.tuple(...es)),
  ),
})).type;

const numberArb: fc.Arbitrary<Value> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
  fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 1, max: 99999 })).map(([i, f]) => new Decimal(`${i}.${f}1`)),
);

function valueArb(type: CtyType, depth = 0): fc.Arbitrary<Value> {
  const inner = (): fc.Arbitrary<Value> => {
    if (type === 'string') return fc.string({ unit: 'grapheme', maxLength: 40 });
    if (type === 'bool') return fc.boolean();
    if (type === 'number') return numberArb;
    if (type === 'dynamic') {
      return depth > 2
        ? fc.constant(null)
        : fc.constantFrom<CtyType>('string', 'number', t.list('bool')).chain((c) => valueArb(c, depth + 1).map((v) => new Dynamic(c, v)));
    }
    switch (type.kind) {
      case 'list':
      case 'set':
        return fc.array(valueArb(type.element, depth + 1), { maxLength: 4 });
      case 'map':
        return fc.dictionary(fc.string({ maxLength: 8 }), valueArb(type.element, depth + 1), { maxKeys: 4 }).map((d) => record(Object.entries(d)));
      case 'tuple':
        return fc.tuple(...type.elements.map((e) => valueArb(e, depth + 1)));
      case 'object':
        return fc
          .record(Object.fromEntries(Object.entries(type.attributes).map(([k, a]) => [k, valueArb(a, depth + 1)])))
          .map((o) => record(Object.entries(o)));
    }
  };
  // Null and unknown may stand at any depth.
  return fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constant(unknown) }, { weight: 6, arbitrary: inner() });
}

const typedValue = typeArb.chain((type) => valueArb(type).map((value) => ({ type, value })));

describe('codec properties', () => {
  it('decode(encode(v)) equals v for every type and value', () => {
    fc.assert(
      fc.property(typedValue, ({ type, value }) => valueEquals(roundTrip(value, type), value)),
      { numRuns: 500 },
    );
  });

  it('encoding is deterministic and stable under a second round trip', () => {
    fc.assert(
      fc.property(typedValue, ({ type, value }) => {
        const once = encodeValue(value, type);
        return hex(encodeValue(decodeValue(once, type), type)) === hex(once);
      }),
      { numRuns: 300 },
    );
  });

  it('type JSON round-trips', () => {
    fc.assert(
      fc.property(
        typeArb,
        (type) => JSON.stringify(typeToJson(typeFromJson(JSON.parse(JSON.stringify(typeToJson(type)))))) === JSON.stringify(typeToJson(type)),
      ),
    );
  });
});

describe('JSON state decoding', () => {
  const type = t.object({ id: t.string, size: t.number, ratio: t.number, big: t.number, tags: t.map(t.string), d: t.dynamic });

  it('keeps number precision and reads dynamic values', () => {
    const v = decodeJsonValue(
      '{"id":"x","size":3,"ratio":0.1,"big":123456789012345678901,"tags":{"a":"b"},"d":{"value":["x"],"type":["list","string"]}}',
      type,
    ) as Record<string, Value>;
    expect(v.size).toBe(3);
    expect(v.ratio).toEqual(new Decimal('0.1'));
    expect(v.big).toBe(123456789012345678901n);
    expect(valueEquals(v.d as Value, new Dynamic(t.list(t.string), ['x']))).toBe(true);
  });

  it('fills missing attributes with null and, when asked, drops ones the schema no longer has', () => {
    expect(() => decodeJsonValue('{"id":"x","gone":1}', type)).toThrow(/gone: no such attribute/);
    const v = decodeJsonValue('{"id":"x","gone":1}', type, { ignoreUndefinedAttributes: true }) as Record<string, Value>;
    expect(Object.keys(v).sort()).toEqual(['big', 'd', 'id', 'ratio', 'size', 'tags']);
    expect(v.size).toBeNull();
  });

  it('parses JSON like JSON.parse, apart from numbers', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (j) => {
        const text = JSON.stringify(j);
        const strip = (x: unknown): unknown =>
          x !== null && typeof x === 'object' && 'text' in x
            ? Number((x as { text: string }).text)
            : Array.isArray(x)
              ? x.map(strip)
              : x !== null && typeof x === 'object'
                ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, strip(v)]))
                : x;
        expect(strip(parseJson(text))).toEqual(JSON.parse(text));
      }),
    );
  });

  it('knows which decimal texts a float64 holds exactly', () => {
    expect(isExactFloat('0.5', 0.5)).toBe(true);
    expect(isExactFloat('1.25e2', 125)).toBe(true);
    expect(isExactFloat('0.1', 0.1)).toBe(false);
    fc.assert(fc.property(fc.integer({ min: -1e6, max: 1e6 }), fc.integer({ min: 0, max: 10 }), (m, e) => isExactFloat(String(m / 2 ** e), m / 2 ** e)));
  });
});
