// NICs that take their address by DHCP: the agent runs ISC dhclient in the NIC's namespace, with
// its own config, lease file and script in a directory of the agent's state, and supervises it.
// The script is ours rather than /sbin/dhclient-script, which would rewrite the machine's
// /etc/resolv.conf: it only sets the address and the default route of the NIC's interface.

import { join } from 'node:path';
import { writeFile, readFile, chmod, mkdir } from 'node:fs/promises';
import { nicDevice } from '../l2/names.js';
import type { Net } from '../net/types.js';
import type { NicRecord } from '../state/model.js';
import type { ProcessSpec } from '../process/supervisor.js';

/** Runs with dhclient's environment ($reason, $interface, $new_*); no value reaches a shell unquoted. */
export const DHCLIENT_SCRIPT = `#!/bin/sh
# Written by vxcloud-agent: applies a DHCP lease to one interface of a NIC's namespace.
prefix() {
  n=0
  for o in $(echo "$1" | tr . ' '); do
    case "$o" in
      255) n=$((n + 8)) ;; 254) n=$((n + 7)) ;; 252) n=$((n + 6)) ;; 248) n=$((n + 5)) ;;
      240) n=$((n + 4)) ;; 224) n=$((n + 3)) ;; 192) n=$((n + 2)) ;; 128) n=$((n + 1)) ;;
    esac
  done
  echo "$n"
}
case "$reason" in
  PREINIT)
    ip link set dev "$interface" up ;;
  BOUND|RENEW|REBIND|REBOOT)
    if [ -n "\${old_ip_address:-}" ] && [ "$old_ip_address" != "$new_ip_address" ]; then
      ip -4 addr flush dev "$interface"
    fi
    ip -4 addr replace "$new_ip_address/$(prefix "$new_subnet_mask")" dev "$interface"
    for r in \${new_routers:-}; do
      ip -4 route replace default via "$r" dev "$interface"
      break
    done ;;
  EXPIRE|RELEASE)
    ip -4 addr flush dev "$interface" ;;
esac
# STOP (the agent stopping) keeps the address: a restarted agent's client renews the same lease.
exit 0
`;

/** Quick retries: the router answers within milliseconds, and a test or a boot waits on it. */
export const DHCLIENT_CONF = `# Written by vxcloud-agent.
timeout 30;
retry 1;
initial-interval 1;
backoff-cutoff 2;
request subnet-mask, broadcast-address, routers, interface-mtu;
`;

export const clientDir = (stateDir: string, n: NicRecord): string => join(stateDir, 'dhcp-clients', nicDevice('veth', n.id));

export function dhclientArgv(dir: string, ifname: string): string[] {
  return [
    'dhclient',
    '-4',
    '-d',
    '-sf',
    join(dir, 'script'),
    '-cf',
    join(dir, 'dhclient.conf'),
    '-lf',
    join(dir, 'dhclient.leases'),
    '-pf',
    join(dir, 'process.pid'),
    ifname,
  ];
}

/** Writes the script and config of a NIC's client; true when they changed. */
export async function prepareClient(dir: string): Promise<boolean> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const script = join(dir, 'script');
  const conf = join(dir, 'dhclient.conf');
  const same = (await readFile(script, 'utf8').catch(() => '')) === DHCLIENT_SCRIPT && (await readFile(conf, 'utf8').catch(() => '')) === DHCLIENT_CONF;
  if (same) return false;
  await writeFile(script, DHCLIENT_SCRIPT, { mode: 0o755 });
  await chmod(script, 0o755);
  await writeFile(conf, DHCLIENT_CONF);
  return true;
}

export function clientSpec(stateDir: string, n: NicRecord): ProcessSpec {
  const dir = clientDir(stateDir, n);
  return { key: `dhclient ${n.id}`, netns: n.namespace, argv: dhclientArgv(dir, n.ifname), dir };
}

/** The first IPv4 address of the NIC's interface, '' for none. */
export async function leasedAddress(net: Net, n: NicRecord): Promise<string> {
  if (!(await net.listNetns()).includes(n.namespace)) return '';
  const ns = await net.netns(n.namespace);
  try {
    return (await ns.addresses(n.ifname).catch((): string[] => []))[0] ?? '';
  } finally {
    ns.close();
  }
}
