// The NIC a bench puts on host i of its lab: n<i>, 198.18.7.(10+i)/24, in a namespace of its own.

import { NicKind, NicSpec } from '../../gen/vxcloud/agent/v1/network.js';
import type { BenchLab } from './lab.js';

// fromPartial: defaults for the NIC fields a bench has no use for (DHCP and whatever comes next).
export const benchNic = (b: BenchLab, i: number, subnetId: string): NicSpec =>
  NicSpec.fromPartial({
    id: `n${i}`,
    subnetId,
    kind: NicKind.NIC_KIND_VETH,
    mac: `02:00:c6:12:07:${(10 + i).toString(16).padStart(2, '0')}`,
    ip: `198.18.7.${10 + i}/24`,
    namespace: `${b.lab.name}-n${i}`,
    createNamespace: true,
    ifname: 'eth0',
  });
