import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetError, openNetHandle, type NetHandle } from '../../../agent/net/index.js';
import { Lab, run, runInNs, sweepLeftovers } from './lab.js';

const lab = new Lab();
let ns: string;
let other: string;
let h: NetHandle;
let o: NetHandle;

beforeAll(async () => {
  await sweepLeftovers();
  ns = await lab.netns('links');
  other = await lab.netns('peer');
  h = await openNetHandle(ns);
  o = await openNetHandle(other);
});

afterAll(async () => {
  h?.close();
  o?.close();
  await lab.cleanup();
});

/** What these tests read of `ip -d -j link show`. */
interface IpLinkDetails {
  address?: string;
  inet6_addr_gen_mode?: string;
  linkinfo: { info_data?: Record<string, unknown>; info_slave_data?: Record<string, unknown> };
}

async function ipDetails(netns: string, dev: string): Promise<IpLinkDetails> {
  const [j] = JSON.parse(await runInNs(netns, ['ip', '-d', '-j', 'link', 'show', 'dev', dev])) as [IpLinkDetails];
  return j;
}

describe('links in a namespace of our own', () => {
  it('creates, reads back, changes and deletes a bridge', async () => {
    await h.createBridge('br100', { mtu: 1400 });
    let br = await h.link('br100');
    expect(br).toMatchObject({ name: 'br100', kind: 'bridge', mtu: 1400, up: false });
    expect(br!.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);

    await h.setLink('br100', { up: true, mtu: 1450, mac: '02:00:00:00:01:00' });
    br = await h.link('br100');
    expect(br).toMatchObject({ up: true, mtu: 1450, mac: '02:00:00:00:01:00' });
    expect((await ipDetails(ns, 'br100')).address).toBe('02:00:00:00:01:00');

    expect((await h.links()).map((l) => l.name)).toContain('br100');
    await h.deleteLink('br100');
    expect(await h.link('br100')).toBeUndefined();
  });

  it('creates a VTEP as in the EVPN recipe and reads its vxlan and port settings back', async () => {
    await h.createBridge('br200', {});
    await h.createVxlan('vx200', { vni: 200, local: '192.0.2.11', port: 4789, mtu: 1500 });
    await h.setLink('vx200', { master: 'br200', up: true });
    await h.setBridgePort('vx200', { learning: false, neighSuppress: true });

    const vx = await h.link('vx200');
    expect(vx).toMatchObject({
      kind: 'vxlan',
      up: true,
      master: 'br200',
      vxlan: { vni: 200, local: '192.0.2.11', port: 4789, learning: false },
      port: { learning: false, neighSuppress: true },
    });
    // the same facts as iproute2 sees them
    const d = await ipDetails(ns, 'vx200');
    expect(d.linkinfo.info_data).toMatchObject({ id: 200, local: '192.0.2.11', port: 4789, learning: false });
    expect(d.linkinfo.info_slave_data).toMatchObject({ learning: false, neigh_suppress: true });
    expect(d.inet6_addr_gen_mode).toBe('none');

    await h.setBridgePort('vx200', { learning: true, neighSuppress: false });
    expect((await h.links()).find((l) => l.name === 'vx200')?.port).toEqual({ learning: true, neighSuppress: false });

    await h.setLink('vx200', { master: null });
    const released = await h.link('vx200');
    expect(released?.master).toBeUndefined();
    expect(released?.port).toBeUndefined();
  });

  it('creates a veth whose peer lands in the other namespace with its MAC and MTU', async () => {
    await h.createVeth('nic1', { mtu: 1450, peer: { name: 'eth0', netns: other, mac: '02:00:00:00:00:aa', mtu: 1450 } });
    expect(await h.link('nic1')).toMatchObject({ kind: 'veth', mtu: 1450 });
    expect(await h.link('eth0')).toBeUndefined();
    expect(await o.link('eth0')).toMatchObject({ kind: 'veth', mtu: 1450, mac: '02:00:00:00:00:aa' });
    await h.deleteLink('nic1');
    expect(await o.link('eth0')).toBeUndefined();
  });

  it('creates a persistent TAP with MTU and MAC', async () => {
    await h.createTap('tap1', { mtu: 1450, mac: '02:00:00:00:00:bb' });
    expect(await h.link('tap1')).toMatchObject({ kind: 'tun', mtu: 1450, mac: '02:00:00:00:00:bb' });
    expect((await ipDetails(ns, 'tap1')).linkinfo.info_data).toMatchObject({ type: 'tap', pi: false });
    await expect(h.createTap('tap1', {})).rejects.toMatchObject({ errno: 'EEXIST', message: 'create tap tap1: EEXIST' });
    await h.deleteLink('tap1');
    expect(await h.link('tap1')).toBeUndefined();
  });

  it('reports kernel errors with errno, operation and object', async () => {
    await h.createVxlan('vx100', { vni: 100, local: '192.0.2.11', port: 4789 });
    const err = await h.createVxlan('vx100', { vni: 100, local: '192.0.2.11', port: 4789 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetError);
    expect(err).toMatchObject({ errno: 'EEXIST', operation: 'create vxlan', object: 'vx100', message: 'create vxlan vx100: EEXIST' });
    await expect(h.setLink('nope0', { up: true })).rejects.toMatchObject({ errno: 'ENODEV', object: 'nope0' });
    await expect(h.setLink('vx100', { master: 'nobr' })).rejects.toMatchObject({ errno: 'ENODEV', object: 'vx100' });
    await expect(h.createVeth('v0', { peer: { name: 'v1', netns: `${lab.prefix}-missing` } })).rejects.toMatchObject({
      errno: 'ENOENT',
      operation: 'create veth',
    });
    await expect(h.createBridge('this-name-is-too-long', {})).rejects.toMatchObject({ errno: 'EINVAL' });
    await h.deleteLink('vx100');
  });

  it('deletes missing objects without error', async () => {
    await h.deleteLink('missing0');
    await h.deleteAddress('missing0', '198.18.0.1/24');
    await h.deleteFdb('missing0', [{ mac: '02:00:00:00:00:01', dst: '192.0.2.12' }]);
    await h.deleteNeighbors('missing0', [{ ip: '198.18.0.2', mac: '02:00:00:00:00:01' }]);
  });

  it('maps unsupported bridge VLAN filtering to what `ip link add` sees on this kernel', async () => {
    const scratch = await lab.netns('vlanf');
    const ipOk = await runInNs(scratch, ['ip', 'link', 'add', 'brf', 'type', 'bridge', 'vlan_filtering', '1']).then(
      () => true,
      () => false,
    );
    const ours = await h.createBridge('brf', { vlanFiltering: true }).then(
      () => true,
      (e: unknown) => e,
    );
    if (ipOk) {
      expect(ours).toBe(true);
      await h.deleteLink('brf');
    } else {
      expect(ours).toBeInstanceOf(NetError);
      expect(ours).toMatchObject({ errno: 'EOPNOTSUPP', operation: 'create bridge', object: 'brf' });
      // the kernel rolls the half-made bridge back
      expect(await h.link('brf')).toBeUndefined();
    }
  });
});

describe('addresses and the default route', () => {
  it('replaces, lists and deletes IPv4 addresses and the default route inside the namespace', async () => {
    await h.createVeth('up0', { peer: { name: 'up1', netns: other } });
    await h.setLink('up0', { up: true });
    await h.replaceAddress('up0', '198.18.5.10/24');
    await h.replaceAddress('up0', '198.18.5.10/24'); // idempotent
    await h.replaceAddress('up0', '198.18.6.1/16');
    expect((await h.addresses('up0')).sort()).toEqual(['198.18.5.10/24', '198.18.6.1/16']);

    expect(await h.defaultGateway()).toBeUndefined();
    await h.replaceDefaultRoute('198.18.5.1', 'up0');
    expect(await h.defaultGateway()).toBe('198.18.5.1');
    await h.replaceDefaultRoute('198.18.5.2', 'up0');
    expect(await h.defaultGateway()).toBe('198.18.5.2');
    expect(await runInNs(ns, ['ip', 'route', 'show', 'default'])).toContain('via 198.18.5.2 dev up0');

    await h.deleteAddress('up0', '198.18.6.1/16');
    await h.deleteAddress('up0', '198.18.6.1/16');
    expect(await h.addresses('up0')).toEqual(['198.18.5.10/24']);
    await expect(h.replaceAddress('up0', '198.18.5.300/24')).rejects.toMatchObject({ errno: 'EINVAL' });
    await h.deleteLink('up0');
  });

  it('never touched the root namespace', async () => {
    const root = await run(['ip', '-j', 'link', 'show']);
    for (const name of ['br100', 'br200', 'vx200', 'nic1', 'tap1', 'vx100', 'up0']) {
      expect((JSON.parse(root) as { ifname: string }[]).map((l) => l.ifname)).not.toContain(name);
    }
  });
});
