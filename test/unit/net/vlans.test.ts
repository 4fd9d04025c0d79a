// Byte-level checks of bridge VLAN messages (`bridge vlan`, `ip link add … type bridge
// vlan_filtering 1`, `type vlan`): this machine's kernel has no VLAN filtering, so the bytes are
// what can be proven here; the VM test proves them against a kernel that has it.

import { describe, expect, it } from 'vitest';
import { encodeMsg, type NlMsg } from '../../../agent/net/codec.js';
import { RTM_GETLINK, RTM_NEWLINK } from '../../../agent/net/constants.js';
import { createBridge, createVlan } from '../../../agent/net/links.js';
import type { Rtnl } from '../../../agent/net/rtnl.js';
import { NetError } from '../../../agent/net/types.js';
import { decodePorts, decodeVlanSpec, encodeVlanSpec, portDumpRequest, validateVlans, vlanChanges, vlanRequest } from '../../../agent/net/vlans.js';

const hex = (b: Buffer): string => b.toString('hex');

/** A stand-in socket that records requests and answers GETLINK with ifindex 9. */
function recorder(): { rtnl: Rtnl; sent: { type: number; flags: number; payload: Buffer }[] } {
  const sent: { type: number; flags: number; payload: Buffer }[] = [];
  const rtnl = {
    async request(type: number, flags: number, payload: Buffer): Promise<NlMsg[]> {
      sent.push({ type, flags, payload });
      if (type !== RTM_GETLINK) return [];
      const reply = Buffer.alloc(16);
      reply.writeInt32LE(9, 4);
      return [{ type: RTM_NEWLINK, flags: 0, seq: 0, pid: 0, data: reply }];
    },
  } as unknown as Rtnl;
  return { rtnl, sent };
}

describe('bridge VLAN encoding', () => {
  it('IFLA_AF_SPEC holds one IFLA_BRIDGE_VLAN_INFO {u16 flags, u16 vid} per VLAN', () => {
    const b = encodeVlanSpec([
      { vid: 10, pvid: true, untagged: true },
      { vid: 4094, pvid: false, untagged: false },
    ]);
    // nest len 20 type 26 | attr len 8 type 2: flags PVID|UNTAGGED=6, vid 10 | attr: flags 0, vid 0x0ffe
    expect(hex(b)).toBe('14001a00' + '08000200' + '0600' + '0a00' + '08000200' + '0000' + 'fe0f');
  });

  it('a port request is an AF_BRIDGE ifinfomsg for the port index, then the spec', () => {
    const b = vlanRequest(0x1234, [{ vid: 100, pvid: false, untagged: true }]);
    expect(hex(b.subarray(0, 16))).toBe('07000000' + '34120000' + '00000000' + '00000000');
    expect(hex(b.subarray(16))).toBe('0c001a00' + '08000200' + '0400' + '6400');
  });

  it('the dump asks for per-VLAN info with IFLA_EXT_MASK = RTEXT_FILTER_BRVLAN', () => {
    expect(hex(portDumpRequest())).toBe('07000000' + '00000000'.repeat(3) + '08001d00' + '02000000');
  });

  it('decodes flags and vids, skipping other attributes, sorted by vid', () => {
    const spec = Buffer.concat([
      Buffer.from('06000000' + '0000' + '0000', 'hex'), // IFLA_BRIDGE_FLAGS (type 0): u16 0, padded
      Buffer.from('08000200' + '0000' + '1400', 'hex'),
      Buffer.from('08000200' + '0600' + '0a00', 'hex'),
    ]);
    expect(decodeVlanSpec(spec)).toEqual([
      { vid: 10, pvid: true, untagged: true },
      { vid: 20, pvid: false, untagged: false },
    ]);
  });

  it('a dump yields flags and VLANs by port index and skips the bridge itself', () => {
    const ifi = (index: number): Buffer => {
      const b = Buffer.alloc(16);
      b.writeUInt8(7, 0);
      b.writeInt32LE(index, 4);
      return b;
    };
    // IFLA_PROTINFO (12, NLA_F_NESTED): LEARNING (8) = 0, NEIGH_SUPPRESS (32) = 1
    const protinfo = Buffer.from('14000c80' + '05000800' + '00000000' + '05002000' + '01000000', 'hex');
    const afSpec = Buffer.from('0c001a00' + '08000200' + '0600' + '2a00', 'hex');
    const msgs: NlMsg[] = [
      { type: RTM_NEWLINK, flags: 0, seq: 1, pid: 0, data: Buffer.concat([ifi(3), afSpec]) }, // the bridge
      { type: RTM_NEWLINK, flags: 0, seq: 1, pid: 0, data: Buffer.concat([ifi(5), protinfo, afSpec]) },
      { type: RTM_NEWLINK, flags: 0, seq: 1, pid: 0, data: Buffer.concat([ifi(6), protinfo]) }, // no filtering
    ];
    const ports = decodePorts(msgs);
    expect([...ports.keys()]).toEqual([5, 6]);
    expect(ports.get(5)).toEqual({ flags: { learning: false, neighSuppress: true }, vlans: [{ vid: 42, pvid: true, untagged: true }] });
    expect(ports.get(6)!.vlans).toEqual([]);
  });

  it('changes: add missing or re-flagged VLANs, remove the rest', () => {
    const access = { vid: 42, pvid: true, untagged: true };
    expect(vlanChanges([access], [{ vid: 1, pvid: true, untagged: true }])).toEqual({ add: [access], remove: [{ vid: 1, pvid: true, untagged: true }] });
    expect(vlanChanges([access], [{ vid: 42, pvid: false, untagged: true }])).toEqual({ add: [access], remove: [] });
    expect(vlanChanges([access], [access])).toEqual({ add: [], remove: [] });
  });

  it('refuses vids outside 1..4094, repeats and two pvids', () => {
    const v = (vid: number, pvid = false) => ({ vid, pvid, untagged: false });
    for (const bad of [[v(0)], [v(4095)], [v(5), v(5)], [v(5, true), v(6, true)]]) {
      expect(() => validateVlans(bad, 'vxn1')).toThrow(NetError);
    }
    expect(() => validateVlans([v(1), v(4094, true)], 'vxn1')).not.toThrow();
  });
});

describe('link creation bytes', () => {
  it('a filtering bridge carries IFLA_BR_VLAN_FILTERING=1 and IFLA_BR_VLAN_DEFAULT_PVID=0', async () => {
    const { rtnl, sent } = recorder();
    await createBridge(rtnl, 'vxvpc0123456789', { vlanFiltering: true });
    const p = sent[0]!.payload;
    // IFLA_LINKINFO { KIND "bridge\0", DATA { VLAN_FILTERING u8 1, VLAN_DEFAULT_PVID u16 0 } }
    const linkinfo = '24001200' + '0b000100' + hex(Buffer.from('bridge\0')) + '00' + '14000200' + '05000700' + '01000000' + '06002700' + '00000000';
    expect(hex(p.subarray(16 + 20))).toBe(linkinfo);
  });

  it('a plain bridge has no IFLA_INFO_DATA, as before', async () => {
    const { rtnl, sent } = recorder();
    await createBridge(rtnl, 'vxbr42', {});
    expect(hex(sent[0]!.payload.subarray(16 + 12))).toBe('10001200' + '0b000100' + hex(Buffer.from('bridge\0')) + '00');
  });

  it('an 802.1Q device names its parent by index (IFLA_LINK) and carries IFLA_VLAN_ID', async () => {
    const { rtnl, sent } = recorder();
    await createVlan(rtnl, 'vxsv42', { parent: 'vxvpc0123456789', id: 43, mtu: 1450 });
    expect(sent.map((s) => s.type)).toEqual([RTM_GETLINK, RTM_NEWLINK]);
    const p = sent[1]!.payload.subarray(16);
    expect(hex(p)).toBe(
      '0b000300' +
        hex(Buffer.from('vxsv42\0')) +
        '00' + // IFLA_IFNAME
        '08000500' +
        '09000000' + // IFLA_LINK = 9
        '08000400' +
        'aa050000' + // IFLA_MTU 1450
        '1c001200' +
        '09000100' +
        hex(Buffer.from('vlan\0')) +
        '000000' +
        '0c000200' +
        '06000100' +
        '2b000000',
    );
    await expect(createVlan(rtnl, 'vxsv1', { parent: 'x', id: 4095 })).rejects.toThrow(/vlan id 4095/);
  });

  it('frames as a netlink message like any other', () => {
    expect(encodeMsg(RTM_NEWLINK, 0, 1, vlanRequest(1, [])).length).toBe(16 + 16 + 4);
  });
});
