// The firewall's tables and the scripts between two versions of them: a change rewrites only what
// it concerns (other NICs' counters keep counting), and a port that goes leaves nothing behind.

import { describe, expect, it } from 'vitest';
import { render, script, type FirewallPlan, type Port } from '../../../agent/firewall/ruleset.js';

const port = (n: number, over: Partial<Port> = {}): Port => ({
  nic: `n${n}`,
  device: `vxn-n${n}`,
  bridge: 'vxbr-1000',
  index: n,
  mac: `02:00:00:00:00:0${n}`,
  addresses: [`198.18.1.${10 + n}`],
  ingress: [{ id: 'default', protocol: 'any', portMin: 0, portMax: 0, peer: { set: 'g_def' } }],
  egress: [{ id: 'default', protocol: 'any', portMin: 0, portMax: 0 }],
  ...over,
});

const plan = (ports: Port[], members = ['198.18.1.11', '198.18.1.12']): FirewallPlan => ({
  ports,
  sets: new Map([['g_def', members]]),
  zones: new Map([['vxbr-1000', 1]]),
});

const lines = (s: string): string[] => s.trim().split('\n');

describe('firewall ruleset', () => {
  it('replaces both tables when the kernel state is unknown, and checks port security per port', () => {
    const s = script(undefined, render(plan([port(1), port(2)])));
    expect(lines(s).slice(0, 3)).toEqual(['table bridge vxsg {}', 'delete table bridge vxsg', 'table bridge vxsg {}']);
    expect(s).toContain('delete table inet vxsg');
    expect(s).toContain('add rule bridge vxsg ps_vxn_n1 ether saddr != 02:00:00:00:00:01 counter drop comment "spoofed mac"');
    expect(s).toContain('add rule bridge vxsg ps_vxn_n1 ip saddr != { 198.18.1.11 } counter drop comment "spoofed ip"');
    expect(s).toContain('add rule inet vxsg in_vxn_n2 ip saddr @g_def counter return comment "default"');
    expect(s).toContain('add element inet vxsg g_def { 198.18.1.11, 198.18.1.12 }');
    expect(s).toContain('add rule inet vxsg raw ct zone set iifname map { "vxbr-1000" : 1 }');
  });

  it('renders each rule kind', () => {
    const t = render(
      plan([
        port(1, {
          ingress: [
            { id: 'r-tcp', protocol: 'tcp', portMin: 80, portMax: 88, peer: { cidr: '203.0.113.0/24' } },
            { id: 'r-udp', protocol: 'udp', portMin: 53, portMax: 53 },
            { id: 'r-icmp', protocol: 'icmp', portMin: 0, portMax: 0, peer: { set: 'g_x' } },
          ],
          egress: [{ id: 'r-any', protocol: 'tcp', portMin: 0, portMax: 0, peer: { cidr: '0.0.0.0/0' } }],
        }),
      ]),
    );
    const inet = t.find((x) => x.family === 'inet')!;
    expect(inet.chains.get('in_vxn_n1')!.rules).toEqual([
      'udp sport 67 udp dport 68 return',
      'ip saddr 203.0.113.0/24 tcp dport 80-88 counter return comment "r-tcp"',
      'meta nfproto ipv4 udp dport 53 counter return comment "r-udp"',
      'ip saddr @g_x meta l4proto icmp counter return comment "r-icmp"',
      'counter drop comment "drop"',
    ]);
    expect(inet.chains.get('out_vxn_n1')!.rules[1]).toBe('ip daddr 0.0.0.0/0 meta l4proto tcp counter return comment "r-any"');
    // Only the sets a port names are in the table.
    expect([...inet.sets.keys()]).toEqual(['g_x']);
  });

  it('rewrites only the chain of the NIC whose rules changed, and a set whose members changed', () => {
    const before = render(plan([port(1), port(2)]));
    const ruleChanged = script(before, render(plan([port(1), port(2, { ingress: [{ id: 'r1', protocol: 'icmp', portMin: 0, portMax: 0 }] })])));
    expect(lines(ruleChanged)).toEqual([
      'flush chain inet vxsg in_vxn_n2',
      'add rule inet vxsg in_vxn_n2 udp sport 67 udp dport 68 return',
      'add rule inet vxsg in_vxn_n2 meta nfproto ipv4 meta l4proto icmp counter return comment "r1"',
      'add rule inet vxsg in_vxn_n2 counter drop comment "drop"',
    ]);
    const joined = script(before, render(plan([port(1), port(2)], ['198.18.1.11', '198.18.1.12', '198.18.1.13'])));
    expect(lines(joined)).toEqual(['flush set inet vxsg g_def', 'add element inet vxsg g_def { 198.18.1.11, 198.18.1.12, 198.18.1.13 }']);
    expect(script(before, render(plan([port(1), port(2)])))).toBe('');
  });

  it('removes a port: dispatch first, then its chains, in one script', () => {
    const s = lines(script(render(plan([port(1), port(2)])), render(plan([port(1)]))));
    const flushDispatch = s.indexOf('flush chain inet vxsg forward');
    const deleteChain = s.indexOf('delete chain inet vxsg in_vxn_n2');
    expect(flushDispatch).toBeGreaterThanOrEqual(0);
    expect(deleteChain).toBeGreaterThan(flushDispatch);
    expect(s).toContain('delete chain bridge vxsg ps_vxn_n2');
    expect(s.join('\n')).not.toMatch(/add rule .* vxn_n2/);
  });
});
