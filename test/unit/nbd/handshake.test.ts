import { describe, expect, test } from 'vitest';

import type { BlockDevice } from '../../../agent/sbs/backend/block-device.js';
import {
  decodeExportNameReply,
  decodeInfo,
  decodeOptionReplyHeader,
  decodeServerEntry,
  encodeInfoRequest,
  OPTION_REPLY_HEADER_LENGTH,
} from '../../../agent/sbs/nbd/codec.js';
import { StaticExportResolver } from '../../../agent/sbs/nbd/exports.js';
import { Negotiation, transmissionFlags, type NegotiationOutcome, type TlsMode } from '../../../agent/sbs/nbd/handshake.js';
import {
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_FLAG_CAN_MULTI_CONN,
  NBD_FLAG_HAS_FLAGS,
  NBD_FLAG_READ_ONLY,
  NBD_FLAG_SEND_FLUSH,
  NBD_FLAG_SEND_FUA,
  NBD_FLAG_SEND_TRIM,
  NBD_FLAG_SEND_WRITE_ZEROES,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_DESCRIPTION,
  NBD_INFO_EXPORT,
  NBD_INFO_NAME,
  NBD_OPT_ABORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_INFO,
  NBD_OPT_LIST,
  NBD_OPT_STARTTLS,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_REP_ACK,
  NBD_REP_ERR_INVALID,
  NBD_REP_ERR_POLICY,
  NBD_REP_ERR_TLS_REQD,
  NBD_REP_ERR_UNKNOWN,
  NBD_REP_ERR_UNSUP,
  NBD_REP_INFO,
  NBD_REP_SERVER,
} from '../../../agent/sbs/nbd/protocol.js';

function device(overrides: Partial<BlockDevice> = {}): BlockDevice {
  return {
    size: 1 << 20,
    readOnly: false,
    blockSize: { minimum: 512, preferred: 4096, maximum: 1 << 25 },
    multiConn: false,
    fua: true,
    read: async (_o, n) => Buffer.alloc(n),
    write: async () => {},
    flush: async () => {},
    trim: async () => {},
    writeZeroes: async () => {},
    ...overrides,
  };
}

const resolver = new StaticExportResolver([
  { name: 'vol', description: 'volume one', device: device() },
  { name: 'bare', device: device({ size: 4096 }) },
]);

const FIXED = NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES;

function negotiation(mode: TlsMode = 'none', flags = FIXED): Negotiation {
  return new Negotiation(resolver, mode, flags, 1 << 25);
}

interface Reply {
  option: number;
  type: number;
  data: Buffer;
}

function replies(outcome: NegotiationOutcome): Reply[] {
  return outcome.replies.map((wire) => {
    const h = decodeOptionReplyHeader(wire.subarray(0, OPTION_REPLY_HEADER_LENGTH));
    const data = wire.subarray(OPTION_REPLY_HEADER_LENGTH);
    expect(data.length).toBe(h.length);
    return { option: h.option, type: h.type, data };
  });
}

function only(outcome: NegotiationOutcome): Reply {
  const r = replies(outcome);
  expect(r).toHaveLength(1);
  return r[0]!;
}

const go = (name: string, infos: number[] = []): Buffer => encodeInfoRequest({ name, infos });

describe('client flags', () => {
  test('unknown client flags end the session', () => {
    expect(() => negotiation('none', FIXED | 4)).toThrow(/unknown client flags/);
    expect(() => negotiation('none', 0x8000_0000)).toThrow();
  });

  test('a client without fixed newstyle cannot be served when TLS is required', () => {
    expect(() => negotiation('required', 0)).toThrow(/fixed newstyle/);
    expect(negotiation('optional', 0)).toBeInstanceOf(Negotiation);
  });
});

describe('NBD_OPT_EXPORT_NAME', () => {
  test('enters transmission with size and flags, zero padding only without NO_ZEROES', async () => {
    for (const [flags, length] of [
      [FIXED, 10],
      [NBD_FLAG_C_FIXED_NEWSTYLE, 134],
    ] as const) {
      const outcome = await negotiation('none', flags).handle(NBD_OPT_EXPORT_NAME, Buffer.from('vol'));
      expect(outcome.kind).toBe('transmit');
      expect(outcome.replies).toHaveLength(1);
      const wire = outcome.replies[0]!;
      expect(wire).toHaveLength(length);
      expect(decodeExportNameReply(wire)).toEqual({ size: 1 << 20, transmissionFlags: transmissionFlags(device()) });
    }
  });

  test('an unknown name or a malformed one closes the session (the option cannot carry an error)', async () => {
    expect((await negotiation().handle(NBD_OPT_EXPORT_NAME, Buffer.from('nope'))).kind).toBe('close');
    expect((await negotiation().handle(NBD_OPT_EXPORT_NAME, Buffer.from([0x76, 0, 0x6c]))).kind).toBe('close');
  });
});

describe('NBD_OPT_INFO and NBD_OPT_GO', () => {
  test('INFO answers the export info and stays in negotiation', async () => {
    const outcome = await negotiation().handle(NBD_OPT_INFO, go('vol'));
    expect(outcome.kind).toBe('continue');
    const r = replies(outcome);
    expect(r.map((x) => x.type)).toEqual([NBD_REP_INFO, NBD_REP_ACK]);
    expect(decodeInfo(r[0]!.data)).toEqual({
      type: NBD_INFO_EXPORT,
      size: 1 << 20,
      transmissionFlags: transmissionFlags(device()),
    });
  });

  test('GO sends name, description and block size only when asked, then transmits', async () => {
    const outcome = await negotiation().handle(NBD_OPT_GO, go('vol', [NBD_INFO_NAME, NBD_INFO_DESCRIPTION, NBD_INFO_BLOCK_SIZE]));
    expect(outcome.kind).toBe('transmit');
    const infos = replies(outcome)
      .filter((x) => x.type === NBD_REP_INFO)
      .map((x) => decodeInfo(x.data));
    expect(infos).toEqual([
      { type: NBD_INFO_EXPORT, size: 1 << 20, transmissionFlags: transmissionFlags(device()) },
      { type: NBD_INFO_NAME, name: 'vol' },
      { type: NBD_INFO_DESCRIPTION, description: 'volume one' },
      { type: NBD_INFO_BLOCK_SIZE, minimum: 512, preferred: 4096, maximum: 1 << 25 },
    ]);
    expect(replies(outcome).at(-1)?.type).toBe(NBD_REP_ACK);
  });

  test("the advertised maximum payload is capped by the server's limit, kept a multiple of the minimum", async () => {
    const n = new Negotiation(resolver, 'none', FIXED, 1_000_000);
    const infos = replies(await n.handle(NBD_OPT_INFO, go('vol', [NBD_INFO_BLOCK_SIZE])))
      .filter((x) => x.type === NBD_REP_INFO)
      .map((x) => decodeInfo(x.data));
    expect(infos[1]).toEqual({ type: NBD_INFO_BLOCK_SIZE, minimum: 512, preferred: 4096, maximum: 999_936 });
  });

  test('an export without a description sends none even when asked; unknown info types are ignored', async () => {
    const outcome = await negotiation().handle(NBD_OPT_GO, go('bare', [NBD_INFO_DESCRIPTION, 999]));
    expect(replies(outcome).map((x) => x.type)).toEqual([NBD_REP_INFO, NBD_REP_ACK]);
  });

  test('an unknown export is NBD_REP_ERR_UNKNOWN with a message, and negotiation goes on', async () => {
    const n = negotiation();
    const outcome = await n.handle(NBD_OPT_GO, go('missing'));
    expect(outcome.kind).toBe('continue');
    const r = only(outcome);
    expect(r).toMatchObject({ option: NBD_OPT_GO, type: NBD_REP_ERR_UNKNOWN });
    expect(r.data.toString()).toBe('unknown export "missing"');
    expect((await n.handle(NBD_OPT_GO, go('vol'))).kind).toBe('transmit');
  });

  test('malformed data is NBD_REP_ERR_INVALID', async () => {
    const good = go('vol', [NBD_INFO_NAME]);
    for (const bad of [Buffer.alloc(0), good.subarray(0, good.length - 1), Buffer.concat([good, Buffer.from([0])])]) {
      expect(only(await negotiation().handle(NBD_OPT_GO, bad)).type).toBe(NBD_REP_ERR_INVALID);
    }
  });
});

describe('NBD_OPT_LIST, NBD_OPT_ABORT and unknown options', () => {
  test('LIST returns one NBD_REP_SERVER per export, then ACK', async () => {
    const r = replies(await negotiation().handle(NBD_OPT_LIST, Buffer.alloc(0)));
    expect(r.map((x) => x.type)).toEqual([NBD_REP_SERVER, NBD_REP_SERVER, NBD_REP_ACK]);
    expect(r.slice(0, 2).map((x) => decodeServerEntry(x.data))).toEqual([
      { name: 'vol', description: 'volume one' },
      { name: 'bare', description: '' },
    ]);
  });

  test('LIST with data is invalid', async () => {
    expect(only(await negotiation().handle(NBD_OPT_LIST, Buffer.from('x'))).type).toBe(NBD_REP_ERR_INVALID);
  });

  test('ABORT is acknowledged, then the session closes', async () => {
    const outcome = await negotiation().handle(NBD_OPT_ABORT, Buffer.alloc(0));
    expect(outcome.kind).toBe('close');
    expect(only(outcome)).toMatchObject({ option: NBD_OPT_ABORT, type: NBD_REP_ACK });
  });

  test('unknown options (structured replies among them) are NBD_REP_ERR_UNSUP', async () => {
    for (const option of [NBD_OPT_STRUCTURED_REPLY, 4, 10, 0xdeadbeef]) {
      const outcome = await negotiation().handle(option, Buffer.alloc(3));
      expect(outcome.kind).toBe('continue');
      expect(only(outcome)).toMatchObject({ option, type: NBD_REP_ERR_UNSUP });
    }
  });
});

describe('STARTTLS and the TLS modes', () => {
  test('without TLS configured, STARTTLS is refused by policy', async () => {
    expect(only(await negotiation('none').handle(NBD_OPT_STARTTLS, Buffer.alloc(0))).type).toBe(NBD_REP_ERR_POLICY);
  });

  test('optional TLS: STARTTLS upgrades, a second one is invalid, options work either side', async () => {
    const n = negotiation('optional');
    expect((await n.handle(NBD_OPT_LIST, Buffer.alloc(0))).kind).toBe('continue');
    expect(only(await n.handle(NBD_OPT_STARTTLS, Buffer.from('x'))).type).toBe(NBD_REP_ERR_INVALID);
    const outcome = await n.handle(NBD_OPT_STARTTLS, Buffer.alloc(0));
    expect(outcome.kind).toBe('starttls');
    expect(only(outcome).type).toBe(NBD_REP_ACK);
    n.tlsEstablished();
    expect(only(await n.handle(NBD_OPT_STARTTLS, Buffer.alloc(0))).type).toBe(NBD_REP_ERR_INVALID);
    expect((await n.handle(NBD_OPT_GO, go('vol'))).kind).toBe('transmit');
  });

  test('required TLS: everything but STARTTLS and ABORT is refused until TLS is up', async () => {
    const n = negotiation('required');
    for (const [option, data] of [
      [NBD_OPT_LIST, Buffer.alloc(0)],
      [NBD_OPT_INFO, go('vol')],
      [NBD_OPT_GO, go('vol')],
      [NBD_OPT_GO, go('missing')], // no hint of which exports exist
      [NBD_OPT_STRUCTURED_REPLY, Buffer.alloc(0)],
      [77, Buffer.alloc(0)],
    ] as const) {
      const outcome = await n.handle(option, data);
      expect(outcome.kind).toBe('continue');
      expect(only(outcome)).toMatchObject({ option, type: NBD_REP_ERR_TLS_REQD });
    }
    expect((await n.handle(NBD_OPT_EXPORT_NAME, Buffer.from('vol'))).kind).toBe('close');
    expect((await n.handle(NBD_OPT_STARTTLS, Buffer.alloc(0))).kind).toBe('starttls');
    n.tlsEstablished();
    expect(replies(await n.handle(NBD_OPT_LIST, Buffer.alloc(0))).at(-1)?.type).toBe(NBD_REP_ACK);
    expect((await n.handle(NBD_OPT_EXPORT_NAME, Buffer.from('vol'))).kind).toBe('transmit');
  });

  test('required TLS still lets the client abort', async () => {
    expect((await negotiation('required').handle(NBD_OPT_ABORT, Buffer.alloc(0))).kind).toBe('close');
  });
});

describe('transmission flags follow the device', () => {
  test('a full read-write device', () => {
    expect(transmissionFlags(device({ multiConn: true }))).toBe(
      NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_CAN_MULTI_CONN,
    );
  });

  test('read-only drops the write features; missing operations are not advertised', () => {
    expect(transmissionFlags(device({ readOnly: true }))).toBe(NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH);
    const minimal = device({ fua: false });
    delete minimal.flush;
    delete minimal.trim;
    delete minimal.writeZeroes;
    expect(transmissionFlags(minimal)).toBe(NBD_FLAG_HAS_FLAGS);
  });
});
