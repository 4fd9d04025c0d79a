import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../agent/config/config.js';
import { decodeCommand, encodeCommand, type VolumeCommand } from '../../../agent/sbs/volume/commands.js';
import { nbdTls } from '../../../agent/sbs/volume/runtime.js';

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

// The raft messages themselves: raft-wire.test.ts; their framing between agents: link-frames.test.ts.

describe('agent config: storage', () => {
  const base =
    'host: { name: h1, roles: [storage] }\nunderlay: { interface: eth0, address: 192.0.2.11 }\nlisten: ["unix:///run/a.sock"]\ntls: { ca: ca.pem, cert: c.pem, key: k.pem }\nstateDir: state\n';
  it('is optional, and resolves the data directory against the config file', () => {
    expect(parseConfig(base, '/etc/vx').storage).toBeUndefined();
    const c = parseConfig(base + 'storage: { dataDir: sbs, nbdListen: ["192.0.2.11:10809", "unix:///run/nbd.sock"] }\n', '/etc/vx');
    expect(c.storage).toEqual({
      dataDir: '/etc/vx/sbs',
      nbdListen: ['192.0.2.11:10809', 'unix:///run/nbd.sock'],
      nbdTls: 'off',
      raftListen: ['192.0.2.11:7444'],
      rebuildAfterSeconds: 0,
    });
  });
  it('listens for raft on the underlay address unless told, and needs one TCP address for peers', () => {
    const c = parseConfig(base + 'storage: { dataDir: sbs, raftListen: ["0.0.0.0:7000", "unix:///run/raft.sock"] }\n', '/');
    expect(c.storage?.raftListen).toEqual(['0.0.0.0:7000', 'unix:///run/raft.sock']);
    for (const bad of ['[]', '["unix:///run/raft.sock"]', '"192.0.2.11:7444"', '["nope"]']) {
      expect(() => parseConfig(base + `storage: { dataDir: sbs, raftListen: ${bad} }\n`, '/')).toThrow(
        /^storage\.raftListen: a list of addresses with one "host:port"/,
      );
    }
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
