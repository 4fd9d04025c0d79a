import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetError, openNet, type Net } from '../../../agent/net/index.js';
import { Lab, run, runInNs, sweepLeftovers } from './lab.js';

const lab = new Lab();
let ns: string;
let net: Net;

beforeAll(async () => {
  await sweepLeftovers();
  ns = await lab.netns('host');
  net = await openNet({ hostNetns: ns });
});

afterAll(async () => {
  net?.close();
  await lab.cleanup();
});

const names = async (netns: string): Promise<string[]> =>
  (JSON.parse(await runInNs(netns, ['ip', '-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname);

describe('Net', () => {
  it('creates, lists and deletes named namespaces; deleting a missing one succeeds', async () => {
    const name = lab.nsName('made');
    await net.createNetns(name);
    expect(await net.listNetns()).toContain(name);
    await expect(net.createNetns(name)).rejects.toMatchObject({ errno: 'EEXIST', object: `netns ${name}` });
    const h = await net.netns(name);
    expect(h.netns).toBe(name);
    expect((await h.links()).map((l) => l.name)).toEqual(['lo']);
    h.close();
    await net.deleteNetns(name);
    await net.deleteNetns(name);
    expect(await net.listNetns()).not.toContain(name);
    await expect(net.netns(`${lab.prefix}-absent`)).rejects.toMatchObject({ errno: 'ENOENT' });
    await expect(net.createNetns('../etc')).rejects.toBeInstanceOf(NetError);
  });

  it('runs the host side inside the namespace it was given', async () => {
    expect(net.host.netns).toBe(ns);
    await net.host.createBridge('hostbr', {});
    expect(await names(ns)).toContain('hostbr');
    expect((JSON.parse(await run(['ip', '-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname)).not.toContain('hostbr');
    await net.host.deleteLink('hostbr');
  });

  it('probes capabilities there, agreeing with iproute2 on bridge VLAN filtering, and leaves nothing behind', async () => {
    // The list is machine-wide and parallel tests add and remove theirs: look at ours only.
    const ours = async (): Promise<string[]> => (await net.listNetns()).filter((n) => n.startsWith(`${lab.prefix}-`));
    const before = await ours();
    const caps = await net.probe();
    const scratch = await lab.netns('vlanf');
    const vlanFiltering = await runInNs(scratch, ['ip', 'link', 'add', 'b0', 'type', 'bridge', 'vlan_filtering', '1']).then(
      () => true,
      () => false,
    );
    expect(caps).toEqual({ vxlan: true, bridge: true, bridgeVlanFiltering: vlanFiltering, veth: true, tun: true, netns: true });
    expect(await names(ns)).toEqual(['lo']);
    expect(await ours()).toEqual(before.concat(scratch).sort());
  });
});
