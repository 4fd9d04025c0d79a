// The networks no router may reach: the route host's underlay prefixes (VTEPs, the agent's own
// address, management on the same wire), the addresses the agent listens on, and any the config adds.

import { formatCidr, parseCidr } from '../../lib/ipv4.js';
import type { NetHandle } from '../net/types.js';

export async function protectedNetworks(host: NetHandle, underlayInterface: string, listen: string[], extra: string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const a of await host.addresses(underlayInterface).catch((): string[] => [])) out.add(formatCidr(parseCidr(a, false)!));
  for (const l of listen) {
    const m = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(l);
    if (m && m[1] !== '0.0.0.0') out.add(`${m[1]}/32`);
  }
  for (const c of extra) out.add(c);
  return [...out].sort();
}
