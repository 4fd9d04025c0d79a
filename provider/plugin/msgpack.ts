// Minimal msgpack reader and writer for the cty codec. The codec is driven by a type, so it reads
// one token at a time instead of decoding a whole document into generic JavaScript first; that
// keeps every integer width exact and reads any extension value (an unknown) as one token.
// Why not @msgpack/msgpack (which the agent uses for raft): it decodes a whole document into plain
// JavaScript values before the schema can be consulted, so a cty number wider than 2^53 arrives
// rounded unless every integer of the document becomes a bigint, and terraform's and tofu's
// unknowns (extension 0, and tofu's refined unknown with its payload) need extension codecs of
// their own anyway. Reading token by token against the schema is simpler than bending it.

export class MsgpackError extends Error {}

export type Head =
  | { kind: 'nil' }
  | { kind: 'bool'; value: boolean }
  | { kind: 'int'; value: number | bigint }
  | { kind: 'float'; value: number }
  | { kind: 'str'; value: string }
  | { kind: 'bin'; value: Uint8Array }
  | { kind: 'array'; length: number }
  | { kind: 'map'; length: number }
  | { kind: 'ext'; type: number; data: Uint8Array };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class Reader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  private need(n: number): number {
    const at = this.pos;
    if (at + n > this.buf.length) throw new MsgpackError(`msgpack: truncated at byte ${at}`);
    this.pos += n;
    return at;
  }

  private u8 = (): number => this.view.getUint8(this.need(1));
  private u16 = (): number => this.view.getUint16(this.need(2));
  private u32 = (): number => this.view.getUint32(this.need(4));

  private bytes(n: number): Uint8Array {
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }

  private static int(v: bigint): number | bigint {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  /** Reads the next token; arrays and maps return their length, their items follow. */
  next(): Head {
    const b = this.u8();
    if (b <= 0x7f) return { kind: 'int', value: b };
    if (b >= 0xe0) return { kind: 'int', value: b - 0x100 };
    if (b >= 0xa0 && b <= 0xbf) return { kind: 'str', value: this.str(b & 0x1f) };
    if (b >= 0x90 && b <= 0x9f) return { kind: 'array', length: b & 0x0f };
    if (b >= 0x80 && b <= 0x8f) return { kind: 'map', length: b & 0x0f };
    switch (b) {
      case 0xc0:
        return { kind: 'nil' };
      case 0xc2:
        return { kind: 'bool', value: false };
      case 0xc3:
        return { kind: 'bool', value: true };
      case 0xcc:
        return { kind: 'int', value: this.u8() };
      case 0xcd:
        return { kind: 'int', value: this.u16() };
      case 0xce:
        return { kind: 'int', value: this.u32() };
      case 0xcf:
        return { kind: 'int', value: Reader.int(this.view.getBigUint64(this.need(8))) };
      case 0xd0:
        return { kind: 'int', value: this.view.getInt8(this.need(1)) };
      case 0xd1:
        return { kind: 'int', value: this.view.getInt16(this.need(2)) };
      case 0xd2:
        return { kind: 'int', value: this.view.getInt32(this.need(4)) };
      case 0xd3:
        return { kind: 'int', value: Reader.int(this.view.getBigInt64(this.need(8))) };
      case 0xca:
        return { kind: 'float', value: this.view.getFloat32(this.need(4)) };
      case 0xcb:
        return { kind: 'float', value: this.view.getFloat64(this.need(8)) };
      case 0xd9:
        return { kind: 'str', value: this.str(this.u8()) };
      case 0xda:
        return { kind: 'str', value: this.str(this.u16()) };
      case 0xdb:
        return { kind: 'str', value: this.str(this.u32()) };
      case 0xc4:
        return { kind: 'bin', value: this.bytes(this.u8()) };
      case 0xc5:
        return { kind: 'bin', value: this.bytes(this.u16()) };
      case 0xc6:
        return { kind: 'bin', value: this.bytes(this.u32()) };
      case 0xdc:
        return { kind: 'array', length: this.u16() };
      case 0xdd:
        return { kind: 'array', length: this.u32() };
      case 0xde:
        return { kind: 'map', length: this.u16() };
      case 0xdf:
        return { kind: 'map', length: this.u32() };
      case 0xd4:
        return this.ext(1);
      case 0xd5:
        return this.ext(2);
      case 0xd6:
        return this.ext(4);
      case 0xd7:
        return this.ext(8);
      case 0xd8:
        return this.ext(16);
      case 0xc7:
        return this.ext(this.u8());
      case 0xc8:
        return this.ext(this.u16());
      case 0xc9:
        return this.ext(this.u32());
      default:
        throw new MsgpackError(`msgpack: unsupported byte 0x${b.toString(16)}`);
    }
  }

  private str(n: number): string {
    return utf8.decode(this.bytes(n));
  }

  private ext(n: number): Head {
    const type = this.view.getInt8(this.need(1));
    return { kind: 'ext', type, data: this.bytes(n) };
  }
}

const utf8enc = new TextEncoder();

export class Writer {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private pos = 0;

  private room(n: number): number {
    if (this.pos + n > this.buf.length) {
      const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
      bigger.set(this.buf.subarray(0, this.pos));
      this.buf = bigger;
      this.view = new DataView(bigger.buffer);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  // Each put reserves room before touching the view: room() may swap the buffer and view.
  private byte(b: number): void {
    const at = this.room(1);
    this.view.setUint8(at, b);
  }

  private put(n: number, write: (view: DataView, at: number) => void): void {
    const at = this.room(n);
    write(this.view, at);
  }

  private raw(bytes: Uint8Array): void {
    const at = this.room(bytes.length);
    this.buf.set(bytes, at);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  nil(): void {
    this.byte(0xc0);
  }

  bool(v: boolean): void {
    this.byte(v ? 0xc3 : 0xc2);
  }

  /** An integer in the smallest form; callers pass only values within int64/uint64. */
  int(v: number | bigint): void {
    const n = typeof v === 'bigint' ? v : BigInt(v);
    if (n >= 0n) {
      if (n <= 0x7fn) this.byte(Number(n));
      else if (n <= 0xffn) {
        this.byte(0xcc);
        this.byte(Number(n));
      } else if (n <= 0xffffn) {
        this.byte(0xcd);
        this.put(2, (dv, at) => dv.setUint16(at, Number(n)));
      } else if (n <= 0xffffffffn) {
        this.byte(0xce);
        this.put(4, (dv, at) => dv.setUint32(at, Number(n)));
      } else {
        this.byte(0xcf);
        this.put(8, (dv, at) => dv.setBigUint64(at, n));
      }
    } else {
      if (n >= -32n) this.byte(Number(n) & 0xff);
      else if (n >= -0x80n) {
        this.byte(0xd0);
        this.put(1, (dv, at) => dv.setInt8(at, Number(n)));
      } else if (n >= -0x8000n) {
        this.byte(0xd1);
        this.put(2, (dv, at) => dv.setInt16(at, Number(n)));
      } else if (n >= -0x80000000n) {
        this.byte(0xd2);
        this.put(4, (dv, at) => dv.setInt32(at, Number(n)));
      } else {
        this.byte(0xd3);
        this.put(8, (dv, at) => dv.setBigInt64(at, n));
      }
    }
  }

  float64(v: number): void {
    this.byte(0xcb);
    this.put(8, (dv, at) => dv.setFloat64(at, v));
  }

  str(v: string): void {
    const bytes = utf8enc.encode(v);
    const n = bytes.length;
    if (n <= 31) this.byte(0xa0 | n);
    else if (n <= 0xff) {
      this.byte(0xd9);
      this.byte(n);
    } else if (n <= 0xffff) {
      this.byte(0xda);
      this.put(2, (dv, at) => dv.setUint16(at, n));
    } else {
      this.byte(0xdb);
      this.put(4, (dv, at) => dv.setUint32(at, n));
    }
    this.raw(bytes);
  }

  bin(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n <= 0xff) {
      this.byte(0xc4);
      this.byte(n);
    } else if (n <= 0xffff) {
      this.byte(0xc5);
      this.put(2, (dv, at) => dv.setUint16(at, n));
    } else {
      this.byte(0xc6);
      this.put(4, (dv, at) => dv.setUint32(at, n));
    }
    this.raw(bytes);
  }

  arrayHead(n: number): void {
    if (n <= 15) this.byte(0x90 | n);
    else if (n <= 0xffff) {
      this.byte(0xdc);
      this.put(2, (dv, at) => dv.setUint16(at, n));
    } else {
      this.byte(0xdd);
      this.put(4, (dv, at) => dv.setUint32(at, n));
    }
  }

  mapHead(n: number): void {
    if (n <= 15) this.byte(0x80 | n);
    else if (n <= 0xffff) {
      this.byte(0xde);
      this.put(2, (dv, at) => dv.setUint16(at, n));
    } else {
      this.byte(0xdf);
      this.put(4, (dv, at) => dv.setUint32(at, n));
    }
  }

  /** cty's unknown value: fixext1, type 0, one zero byte (d4 00 00). */
  unknown(): void {
    this.byte(0xd4);
    this.byte(0);
    this.byte(0);
  }
}
