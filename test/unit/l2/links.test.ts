// One diff of a link against its spec: the problems a status reports, and the fixes ensureLink
// applies until none is left.

import { describe, expect, it } from 'vitest';
import { ensureLink, linkDiff, linkProblems, type LinkSpec } from '../../../agent/l2/links.js';
import { FakeNet } from '../agent/fake-net.js';

const bridge: LinkSpec = { name: 'vxbr1', kind: 'bridge', mtu: 1450 };
const port: LinkSpec = {
  name: 'vxlan1',
  kind: 'vxlan',
  mtu: 1450,
  master: 'vxbr1',
  port: { learning: false, neighSuppress: true },
  vxlan: { vni: 1, local: '192.0.2.11', port: 4789, learning: false },
};

describe('link diff', () => {
  it('says what differs, in the order the fixes must go', () => {
    expect(linkProblems(bridge, undefined)).toEqual(['bridge vxbr1 is missing']);
    const link = { index: 3, name: 'vxlan1', kind: 'vxlan', mtu: 1500, up: false, mac: '02:00:00:00:00:01', vxlan: port.vxlan! };
    expect(linkDiff(port, link).map((f) => [f.change, f.problem])).toEqual([
      ['set', 'vxlan1 has MTU 1500, want 1450'],
      ['set', 'vxlan1 is not a port of vxbr1'],
      ['set', 'vxlan1 is down'],
    ]);
    // Port flags are compared once the link is a port of its master.
    expect(linkProblems(port, { ...link, mtu: 1450, up: true, master: 'vxbr1', port: { learning: true, neighSuppress: true } })).toEqual([
      'vxlan1 port learning is on, want off',
    ]);
    expect(linkDiff(port, { ...link, vxlan: { ...port.vxlan!, vni: 2 } }).map((f) => f.change)).toEqual(['recreate']);
  });

  it('ensureLink creates, enslaves, then sets the port flags the master brought, and nothing is left', async () => {
    const net = new FakeNet();
    const h = net.host;
    await ensureLink(h, bridge, undefined, () => h.createBridge('vxbr1', { mtu: 1450 }));
    const made = await ensureLink(h, port, undefined, () => h.createVxlan('vxlan1', { vni: 1, local: '192.0.2.11', port: 4789, mtu: 1450 }));
    expect(made).toMatchObject({ master: 'vxbr1', up: true, port: { learning: false, neighSuppress: true } });
    expect(linkProblems(port, await h.link('vxlan1'))).toEqual([]);
  });

  it('fails, naming what the kernel would not take, instead of reporting success', async () => {
    const net = new FakeNet();
    const h = net.host;
    await h.createBridge('vxbr1', { mtu: 1450 });
    h.setLink = async () => undefined; // a kernel that ignores every change
    await expect(ensureLink(h, bridge, await h.link('vxbr1'), () => h.createBridge('vxbr1', {}))).rejects.toThrow(
      'vxbr1 does not take its settings: vxbr1 is down',
    );
  });
});
