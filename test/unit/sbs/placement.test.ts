import { describe, expect, it } from 'vitest';
import { decodePlacement, encodePlacement, nextMoveStep, rebuildTarget, type Placement, type VolumeHost } from '../../../agent/sbs/volume/placement.js';
import { applyConfChange, type ConfState } from '../../../agent/sbs/raft/index.js';
import { hostOf } from '../../../agent/sbs/volume/member.js';

const h = (n: number): VolumeHost => ({ name: `h${n}`, endpoint: `192.0.2.1${n}:7443` });
const names = (hs: readonly VolumeHost[]) => hs.map((x) => x.name);

/**
 * Carries a move out the way mover.ts does, against a model of the group: every step is applied
 * at once (a place sets the placement, a create makes a learner, a hand-over makes `to` lead).
 */
function simulate(start: Placement, conf: ConfState, leader: string, target: VolumeHost[]) {
  let p = start;
  let c = conf;
  let self = leader;
  const steps: string[] = [];
  for (let i = 0; i < 50; i++) {
    const s = nextMoveStep(p, c, self, target);
    steps.push(
      s.kind === 'place'
        ? `place ${names(s.hosts).join()} retired ${names(s.retired).join()}`
        : s.kind === 'create'
          ? `create ${s.host.name}`
          : s.kind === 'done'
            ? 'done'
            : `${s.kind} ${'member' in s ? s.member : s.to}`,
    );
    switch (s.kind) {
      case 'place':
        p = { hosts: s.hosts, retired: s.retired, at: p.at + 1 };
        break;
      case 'create':
        c = applyConfChange(c, { type: 'addLearner', node: `${s.host.name}#x` })!;
        break;
      case 'promote':
        c = applyConfChange(c, { type: 'addVoter', node: s.member })!;
        break;
      case 'remove':
        c = applyConfChange(c, { type: 'removeNode', node: s.member })!;
        break;
      case 'handOver':
        self = s.to;
        break;
      case 'done':
        return { p, c, self, steps };
    }
  }
  throw new Error(`no end: ${steps.join('; ')}`);
}

describe('volume placement', () => {
  const three: Placement = { hosts: [h(1), h(2), h(3)], retired: [], at: 0 };
  const conf: ConfState = { voters: ['h1', 'h2', 'h3'], learners: [] };

  it('round-trips through its encoding and refuses a malformed one', () => {
    const p: Placement = { hosts: [h(1), h(2)], retired: [h(3)], at: 42 };
    expect(decodePlacement(encodePlacement(p))).toEqual(p);
    expect(() => decodePlacement(Buffer.from('{"hosts":[{"name":1}],"retired":[],"at":0}'))).toThrow(/malformed/);
  });

  it('moves a follower: places both, adds the new host as a learner, promotes it, removes the old, retires it', () => {
    const { p, c, steps } = simulate(three, conf, 'h1', [h(1), h(2), h(4)]);
    expect(steps).toEqual(['place h1,h2,h3,h4 retired ', 'create h4', 'promote h4#x', 'remove h3', 'place h1,h2,h4 retired h3', 'done']);
    expect(c).toEqual({ voters: ['h1', 'h2', 'h4#x'], learners: [] });
    expect(p.retired.map((x) => x.name)).toEqual(['h3']);
  });

  it('moves the leader: it hands over to a voter that stays, which removes it', () => {
    const { c, self, steps } = simulate(three, conf, 'h1', [h(2), h(3), h(4)]);
    expect(steps).toContain('handOver h2');
    expect(self).toBe('h2');
    expect(c.voters.map(hostOf).sort()).toEqual(['h2', 'h3', 'h4']);
  });

  it('is finished by running it again from wherever it stopped, and is a no-op when done', () => {
    // Stopped after the learner was added.
    const mid: Placement = { hosts: [h(1), h(2), h(3), h(4)], retired: [], at: 7 };
    const { steps } = simulate(mid, { voters: ['h1', 'h2', 'h3'], learners: ['h4#x'] }, 'h1', [h(1), h(2), h(4)]);
    expect(steps[0]).toBe('promote h4#x');
    expect(nextMoveStep(three, conf, 'h1', [h(1), h(2), h(3)])).toEqual({ kind: 'done' });
  });

  it('takes a retired host back without its stale replica being deleted', () => {
    const p: Placement = { hosts: [h(1), h(2), h(4)], retired: [h(3)], at: 9 };
    const s = nextMoveStep(p, { voters: ['h1', 'h2', 'h4#x'], learners: [] }, 'h1', [h(1), h(2), h(3)]);
    expect(s).toEqual({ kind: 'place', hosts: [h(1), h(2), h(4), h(3)], retired: [] });
  });

  it('replaces silent hosts with spares by the volume id, keeping the others in place', () => {
    const spares = [h(4), h(5), h(6)];
    const t = rebuildTarget('vol', three.hosts, new Set(['h2']), spares)!;
    expect(t[0]).toEqual(h(1));
    expect(t[2]).toEqual(h(3));
    expect(['h4', 'h5', 'h6']).toContain(t[1]!.name);
    expect(rebuildTarget('vol', three.hosts, new Set(['h2']), spares.slice().reverse())).toEqual(t);
    // Spares already placed do not count; too few is null.
    expect(rebuildTarget('vol', three.hosts, new Set(['h2', 'h3']), [h(1), h(4)])).toBeNull();
  });
});
