import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../agent/config/config.js';
import { decodeCommand, encodeCommand, type VolumeCommand } from '../../../agent/sbs/volume/commands.js';
import { nbdTls } from '../../../agent/sbs/volume/runtime.js';
import { StepRequest } from '../../../gen/vxcloud/agent/v1/volume.js';
import { encodeStepRequest } from '../../../agent/sbs/volume/wire.js';

describe('volume commands', () => {
  const samples: VolumeCommand[] = [
    { op: 'write', offset: 0, data: new Uint8Array([1, 2, 3]) },
    { op: 'write', offset: 2 ** 47, data: new Uint8Array(4096).fill(7) },
    { op: 'trim', offset: 4096, length: 1 << 20 },
    { op: 'zero', offset: 512, length: 4096, noHole: false },
    { op: 'zero', offset: 512, length: 4096, noHole: true },
    { op: 'grow', size: 96 * 1024 * 1024 },
    { op: 'place', placement: { hosts: [{ name: 'h1', endpoint: '192.0.2.11:7443' }], retired: [{ name: 'h4', endpoint: '192.0.2.14:7443' }], at: 0 } },
  ];
  it('round-trip', () => {
    for (const c of samples) {
      const d = decodeCommand(encodeCommand(c));
      if (c.op === 'write' && d.op === 'write') {
        expect(d.offset).toBe(c.offset);
        expect(Buffer.from(d.data).equals(Buffer.from(c.data))).toBe(true);
      } else expect(d).toEqual(c);
    }
  });
  it('refuses short, inconsistent or unknown commands', () => {
    expect(() => decodeCommand(new Uint8Array(5))).toThrow(/at least 13/);
    const w = encodeCommand({ op: 'write', offset: 0, data: new Uint8Array(8) });
    expect(() => decodeCommand(w.subarray(0, w.length - 1))).toThrow(/carries 7/);
    const bad = Buffer.from(w);
    bad[0] = 99;
    expect(() => decodeCommand(bad)).toThrow(/unknown op 99/);
  });
});

// The raft messages themselves: raft-wire.test.ts.
describe('raft messages on the wire', () => {
  it('frames StepRequest exactly as protobuf does, for every length class of varint', () => {
    const sizes = [0, 1, 127, 128, 16383, 16384, (1 << 21) + 3];
    const requests: StepRequest[] = [
      { volumeId: '', messages: [], forwardId: 0, commands: [] },
      { volumeId: 'vol-1', messages: sizes.map((n) => Buffer.alloc(n, n % 251)), forwardId: 0, commands: [] },
      { volumeId: 'é'.repeat(70), messages: [Buffer.from([1])], forwardId: 0, commands: [] },
      // Forwarded writes: ids past 2^32, commands of every length class.
      { volumeId: 'vol-2', messages: [], forwardId: 2 ** 40 + 7, commands: sizes.map((n) => Buffer.alloc(n, 3)) },
      { volumeId: 'vol-3', messages: [], forwardId: 1, commands: [] },
    ];
    for (const req of requests) {
      const ours = encodeStepRequest(req);
      expect(ours.equals(Buffer.from(StepRequest.encode(req).finish()))).toBe(true);
      const back = StepRequest.decode(ours);
      expect(back.volumeId).toBe(req.volumeId);
      expect(back.messages.map((m) => Buffer.from(m).toString('base64'))).toEqual(req.messages.map((m) => Buffer.from(m).toString('base64')));
      expect(back.forwardId).toBe(req.forwardId);
      expect(back.commands.map((m) => Buffer.from(m).toString('base64'))).toEqual(req.commands.map((m) => Buffer.from(m).toString('base64')));
    }
  });
});

describe('agent config: storage', () => {
  const base =
    'host: { name: h1, roles: [storage] }\nunderlay: { interface: eth0, address: 192.0.2.11 }\nlisten: ["unix:///run/a.sock"]\ntls: { ca: ca.pem, cert: c.pem, key: k.pem }\nstateDir: state\n';
  it('is optional, and resolves the data directory against the config file', () => {
    expect(parseConfig(base, '/etc/vx').storage).toBeUndefined();
    const c = parseConfig(base + 'storage: { dataDir: sbs, nbdListen: ["192.0.2.11:10809", "unix:///run/nbd.sock"] }\n', '/etc/vx');
    expect(c.storage).toEqual({ dataDir: '/etc/vx/sbs', nbdListen: ['192.0.2.11:10809', 'unix:///run/nbd.sock'], nbdTls: 'off', rebuildAfterSeconds: 0 });
  });
  it('takes an NBD TLS policy, off unless set', () => {
    for (const mode of ['off', 'optional', 'required'] as const) {
      expect(parseConfig(base + `storage: { dataDir: sbs, nbdTls: ${mode} }\n`, '/').storage?.nbdTls).toBe(mode);
    }
    for (const bad of ['on', 'true', '"Required"', '1', '[required]', '""']) {
      expect(() => parseConfig(base + `storage: { dataDir: sbs, nbdTls: ${bad} }\n`, '/')).toThrow(/^storage\.nbdTls: must be off, optional or required$/);
    }
  });
  it('serves NBD with the agent certificate and requires client certificates of the CA whenever TLS is on', () => {
    const pem = { ca: Buffer.from('ca'), cert: Buffer.from('cert'), key: Buffer.from('key') };
    expect(nbdTls('off', pem)).toBeUndefined();
    expect(nbdTls('optional', pem)).toEqual({ ...pem, requireClientCert: true, mandatory: false });
    expect(nbdTls('required', pem)).toEqual({ ...pem, requireClientCert: true, mandatory: true });
  });
  it('names the field that is wrong', () => {
    expect(() => parseConfig(base + 'storage: { nbdListen: [] }\n', '/')).toThrow(/^storage\.dataDir: required/);
    expect(() => parseConfig(base + 'storage: { dataDir: x, nbdListen: ["nope"] }\n', '/')).toThrow(/^storage\.nbdListen: /);
    expect(() => parseConfig(base + 'storage: { dataDir: x, rebuildAfterSeconds: -1 }\n', '/')).toThrow(/^storage\.rebuildAfterSeconds: a number of seconds/);
  });
  it('rebuilds on its own only with a registry, which knows the spare hosts', () => {
    expect(() => parseConfig(base + 'storage: { dataDir: x, rebuildAfterSeconds: 600 }\n', '/')).toThrow(
      /^storage\.rebuildAfterSeconds: rebuilding needs a registry/,
    );
    const reg = 'registry: { endpoints: ["http://192.0.2.1:2379"] }\n';
    expect(parseConfig(base + reg + 'storage: { dataDir: x, rebuildAfterSeconds: 600 }\n', '/').storage?.rebuildAfterSeconds).toBe(600);
  });
});
