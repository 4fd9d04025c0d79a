import { describe, expect, it } from 'vitest';
import { IFNAMSIZ, isVxcloudLink, nicDevice, subnetBridge, vxlanDevice } from '../../../agent/l2/names.js';

describe('kernel names', () => {
  it('fit IFNAMSIZ at the largest VNI and for any id', () => {
    expect(subnetBridge(16_777_215).length).toBeLessThanOrEqual(IFNAMSIZ);
    expect(vxlanDevice(16_777_215).length).toBeLessThanOrEqual(IFNAMSIZ);
    expect(nicDevice('veth', 'x'.repeat(64)).length).toBeLessThanOrEqual(IFNAMSIZ);
  });

  it('are deterministic and differ between ids and kinds', () => {
    expect(nicDevice('veth', 'web-1')).toBe(nicDevice('veth', 'web-1'));
    expect(nicDevice('veth', 'web-1')).not.toBe(nicDevice('veth', 'web-2'));
    expect(nicDevice('tap', 'web-1')).not.toBe(nicDevice('veth', 'web-1'));
    const names = new Set(Array.from({ length: 10_000 }, (_, i) => nicDevice('veth', `nic-${i}`)));
    expect(names.size).toBe(10_000);
  });

  it("recognise vxcloud's own links and nothing else", () => {
    expect(isVxcloudLink(subnetBridge(7))).toBe(true);
    expect(isVxcloudLink(vxlanDevice(7))).toBe(true);
    expect(isVxcloudLink(nicDevice('tap', 'a'))).toBe(true);
    for (const other of ['eth0', 'lo', 'vxlan', 'vxbr', 'vxbrX', 'vxlan-1', 'br0', 'vxnet0']) expect(isVxcloudLink(other), other).toBe(false);
  });
});
