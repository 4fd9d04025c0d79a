// vxcloud_block_volume against fake agents: validation on the attribute's path, placement
// (deterministic, storage hosts only, recorded), grow in place, shrink refused at plan time, and
// CRUD that leaves nothing half-made behind.

import { status as grpcStatus } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { Host } from '../../../gen/vxcloud/agent/v1/host.js';
import type { Volume, VolumeHost } from '../../../gen/vxcloud/agent/v1/volume.js';
import type { AgentClient } from '../../../lib/agent-client.js';
import { isUnknown, unknown, type Value, type ValueRecord } from '../../../provider/plugin/cty.js';
import { blockVolume, humanSize, placeVolume } from '../../../provider/resources/block-volume.js';
import { Fleet, type FleetHost } from '../../../provider/resources/fleet.js';
import * as h from './resource-harness.js';
import { ctx, failure, paths, text } from './resource-harness.js';

const MiB = 1024 * 1024;

const rpcError = (code: grpcStatus, details: string): Error => Object.assign(new Error(details), { code, details });

interface FakeHost {
  roles: string[];
  peerEndpoint: string;
  down?: boolean;
}

/** Storage agents in memory: one volume object shared by the replica hosts that hold it. */
class FakeAgents {
  readonly volumes = new Map<string, Map<string, Volume>>();
  readonly calls: string[] = [];
  /** Hosts whose replica creation fails (the others' replicas are made). */
  failReplicaOn = new Set<string>();
  /** GetVolume answers "unavailable" this many times before "healthy". */
  electionPolls = 0;

  constructor(readonly hosts: Record<string, FakeHost>) {
    for (const h of Object.keys(hosts)) this.volumes.set(h, new Map());
  }

  private reach(name: string): FakeHost {
    const h = this.hosts[name]!;
    if (h.down) throw rpcError(grpcStatus.UNAVAILABLE, 'No connection established');
    return h;
  }

  private storage(name: string): Map<string, Volume> {
    const h = this.reach(name);
    if (!h.roles.includes('storage')) throw rpcError(grpcStatus.UNIMPLEMENTED, 'The server does not implement the method');
    return this.volumes.get(name)!;
  }

  private view(name: string, v: Volume): Volume {
    const polling = this.electionPolls > 0;
    if (polling) this.electionPolls--;
    return {
      ...v,
      hosts: [...v.hosts],
      status: polling ? 'unavailable' : 'healthy',
      leader: polling ? '' : v.hosts[0]!.name,
      exportUri: `nbd://${this.hosts[name]!.peerEndpoint.split(':')[0]}:10809/${v.id}`,
    };
  }

  client(name: string): AgentClient {
    const log = (call: string): void => void this.calls.push(`${name} ${call}`);
    const fake = {
      host: {
        getHost: async (): Promise<Partial<Host>> => {
          log('GetHost');
          const h = this.reach(name);
          return { name, roles: h.roles, peerEndpoint: h.peerEndpoint, underlayAddress: h.peerEndpoint.split(':')[0] ?? '' };
        },
      },
      volume: {
        getVolume: async ({ id }: { id: string }): Promise<Volume> => {
          log(`GetVolume ${id}`);
          const v = this.storage(name).get(id);
          if (!v) throw rpcError(grpcStatus.NOT_FOUND, `id: volume "${id}" has no replica on ${name}`);
          return this.view(name, v);
        },
        createVolume: async (req: { id: string; sizeBytes: number; replicas: number; hosts: VolumeHost[]; tenant: string }): Promise<Volume> => {
          log(`CreateVolume ${req.id} ${req.sizeBytes} ${req.hosts.map((h) => `${h.name}=${h.endpoint}`).join(',')}`);
          this.storage(name);
          const v: Volume = {
            id: req.id,
            tenant: req.tenant,
            sizeBytes: req.sizeBytes,
            replicas: req.replicas,
            hosts: req.hosts,
            status: '',
            leader: '',
            appliedIndex: 0,
            replicaStatus: [],
            exportUri: '',
          };
          for (const h of req.hosts) if (!this.failReplicaOn.has(h.name)) this.volumes.get(h.name)!.set(req.id, v);
          const failed = req.hosts.find((h) => this.failReplicaOn.has(h.name));
          if (failed) throw rpcError(grpcStatus.FAILED_PRECONDITION, `hosts: ${failed.name}: disk full`);
          return this.view(name, v);
        },
        growVolume: async ({ id, sizeBytes }: { id: string; sizeBytes: number }): Promise<Volume> => {
          log(`GrowVolume ${id} ${sizeBytes}`);
          const v = this.storage(name).get(id);
          if (!v) throw rpcError(grpcStatus.NOT_FOUND, `id: volume "${id}" has no replica on ${name}`);
          if (sizeBytes < v.sizeBytes)
            throw rpcError(grpcStatus.INVALID_ARGUMENT, `size_bytes: ${sizeBytes} is smaller than the volume (${v.sizeBytes} bytes): volumes only grow`);
          v.sizeBytes = sizeBytes;
          return this.view(name, v);
        },
        deleteVolume: async ({ id }: { id: string }): Promise<{ existed: boolean }> => {
          log(`DeleteVolume ${id}`);
          const v = this.storage(name).get(id);
          if (!v) return { existed: false };
          for (const h of v.hosts) this.volumes.get(h.name)!.delete(id);
          return { existed: true };
        },
      },
    };
    return fake as unknown as AgentClient;
  }

  holders(id: string): string[] {
    return [...this.volumes].filter(([, m]) => m.has(id)).map(([h]) => h);
  }
}

class FakeFleet extends Fleet {
  constructor(readonly agents: FakeAgents) {
    const hosts: FleetHost[] = Object.entries(agents.hosts).map(([name, h]) => ({ name, endpoint: `unix:///run/${name}.sock`, roles: h.roles, up: true }));
    super(hosts, { ca: Buffer.alloc(0), cert: Buffer.alloc(0), key: Buffer.alloc(0) }, 2000);
  }

  override client(name: string): AgentClient {
    if (!this.host(name)) throw new Error(`unknown host "${name}"`);
    return this.agents.client(name);
  }
}

/** Four storage hosts and a compute host, as a lab would have them. */
function lab(extra: Record<string, FakeHost> = {}): FakeFleet {
  const storage = (i: number): FakeHost => ({ roles: ['storage'], peerEndpoint: `192.0.2.1${i}:7443` });
  return new FakeFleet(
    new FakeAgents({ h1: storage(1), h2: storage(2), h3: storage(3), h4: storage(4), h5: { roles: ['compute'], peerEndpoint: '' }, ...extra }),
  );
}

// The resource harness, for this one resource.
const configOf = (o: Record<string, Value>): ValueRecord => h.configOf(blockVolume, o);
const validate = (o: Record<string, Value>) => h.validate(blockVolume, o);
const plan = (fleet: Fleet, prior: ValueRecord | null, o: Record<string, Value>) => h.plan(blockVolume, fleet, prior, o);
const apply = (fleet: Fleet, o: Record<string, Value>) => h.apply(blockVolume, fleet, o);

describe('vxcloud_block_volume validation', () => {
  it('accepts a good config', () => {
    expect(validate({ name: 'data-1', size_bytes: 64 * MiB, replicas: 3, hosts: ['h1', 'h2', 'h3'] })).toEqual([]);
  });

  it('refuses a bad name, size or replica count on that attribute, saying what would do', () => {
    const cases: [Record<string, Value>, string, RegExp][] = [
      [{ name: 'Data_1', size_bytes: 4096 }, 'name', /1-63 lower-case letters, digits or '-'/],
      [{ name: 'a'.repeat(64), size_bytes: 4096 }, 'name', /1-63/],
      [{ name: 'd', size_bytes: 0 }, 'size_bytes', /positive number of bytes.*e\.g\. 67108864 \(64 MiB\)/],
      [{ name: 'd', size_bytes: 4097 }, 'size_bytes', /4097 is not a multiple of 4096.*e\.g\. 8192 \(8 KiB\)/],
      [{ name: 'd', size_bytes: -4096 }, 'size_bytes', /positive/],
      [{ name: 'd', size_bytes: 1.5 }, 'size_bytes', /1\.5 is not a whole number of bytes.*e\.g\. 4096 \(4 KiB\)/],
      // 128.001 MiB, as `size_bytes = 128.001 * 1024 * 1024` would give
      [{ name: 'd', size_bytes: 128.001 * MiB }, 'size_bytes', /134218776\.576 is not a whole number of bytes.*e\.g\. 134221824/],
      [{ name: 'd', size_bytes: 4096, replicas: 0 }, 'replicas', /at least 1; got 0/],
      [{ name: 'd', size_bytes: 4096, replicas: 2.5 }, 'replicas', /whole number/],
    ];
    for (const [config, attribute, message] of cases) {
      const ds = validate(config);
      expect(paths(ds), JSON.stringify(config)).toEqual([[attribute]]);
      expect(text(ds)).toMatch(message);
    }
  });

  it('refuses duplicate hosts and a host count other than replicas', () => {
    const dup = validate({ name: 'd', size_bytes: 4096, hosts: ['h1', 'h2', 'h1'] });
    expect(paths(dup)).toEqual([['hosts', 2]]);
    expect(text(dup)).toMatch(/"h1" is listed twice \(also as hosts\[0\]\)/);
    const count = validate({ name: 'd', size_bytes: 4096, replicas: 3, hosts: ['h1', 'h2'] });
    expect(paths(count)).toEqual([['hosts']]);
    expect(text(count)).toMatch(/hosts lists 2 host\(s\) but replicas is 3: list exactly 3 storage hosts, or leave hosts out/);
    // Unknown values wait for plan.
    expect(validate({ name: unknown, size_bytes: unknown, replicas: unknown, hosts: unknown })).toEqual([]);
  });
});

describe('placement', () => {
  const hosts = Array.from({ length: 8 }, (_, i) => `h${i + 1}`);

  it('depends only on the name and the candidates, not their order', () => {
    const a = placeVolume('data', hosts, 3);
    expect(a).toHaveLength(3);
    expect(new Set(a).size).toBe(3);
    expect(placeVolume('data', [...hosts].reverse(), 3)).toEqual(a);
    expect(placeVolume('data', hosts, 3)).toEqual(a);
  });

  it('spreads volumes, and their first host, across the hosts', () => {
    const firsts = new Map<string, number>();
    const all = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const p = placeVolume(`vol-${i}`, hosts, 3);
      firsts.set(p[0]!, (firsts.get(p[0]!) ?? 0) + 1);
      for (const h of p) all.set(h, (all.get(h) ?? 0) + 1);
    }
    expect(firsts.size).toBe(8);
    for (const n of all.values()) expect(n).toBeGreaterThan(100); // 150 each on average
  });

  it('moves a volume to a new host only when the new host takes one of its places', () => {
    for (let i = 0; i < 200; i++) {
      const before = placeVolume(`vol-${i}`, hosts, 3);
      const after = placeVolume(`vol-${i}`, [...hosts, 'h9'], 3);
      const kept = after.filter((h) => h !== 'h9');
      expect(kept.every((h) => before.includes(h))).toBe(true);
      expect(kept.length).toBeGreaterThanOrEqual(2);
    }
  });
});

describe('vxcloud_block_volume plan', () => {
  it('on create places 3 replicas on storage hosts only, records them, and plans the same again', async () => {
    const fleet = lab();
    const { planned, diagnostics } = await plan(fleet, null, { name: 'data', size_bytes: 32 * MiB });
    expect(diagnostics).toEqual([]);
    expect(planned.replicas).toBe(3);
    expect(planned.id).toBe('data');
    expect(planned.hosts).toEqual(placeVolume('data', ['h1', 'h2', 'h3', 'h4'], 3));
    expect(isUnknown(planned.export_uri) && isUnknown(planned.status) && isUnknown(planned.leader)).toBe(true);
    // The plan apply makes again must be the same (terraform rejects a different one).
    expect((await plan(lab(), null, { name: 'data', size_bytes: 32 * MiB })).planned).toEqual(planned);
  });

  it('places around a storage host whose agent does not answer', async () => {
    const fleet = lab();
    fleet.agents.hosts.h2!.down = true;
    const { planned, diagnostics } = await plan(fleet, null, { name: 'data', size_bytes: 4096, replicas: 3 });
    expect(diagnostics).toEqual([]);
    expect([...(planned.hosts as string[])].sort()).toEqual(['h1', 'h3', 'h4']);
  });

  it('refuses more replicas than storage hosts on replicas, naming the hosts and what is wrong with others', async () => {
    const fleet = lab();
    fleet.agents.hosts.h4!.down = true;
    const { diagnostics } = await plan(fleet, null, { name: 'data', size_bytes: 4096, replicas: 4 });
    expect(paths(diagnostics)).toEqual([['replicas']]);
    expect(text(diagnostics)).toMatch(
      /4 replicas need 4 storage hosts, one per replica; the provider has 3 \(h1, h2, h3\)\. Not usable: cannot ask "h4"'s agent: No connection established\. Lower replicas, or add storage hosts\./,
    );
    expect(text(diagnostics)).not.toMatch(/h5/);
  });

  it('takes given hosts, replicas defaulting to their number, and checks each with its agent', async () => {
    const ok = await plan(lab(), null, { name: 'data', size_bytes: 4096, hosts: ['h4', 'h2'] });
    expect(ok.diagnostics).toEqual([]);
    expect(ok.planned.replicas).toBe(2);
    expect(ok.planned.hosts).toEqual(['h4', 'h2']);

    const bad = await plan(lab({ h6: { roles: ['storage'], peerEndpoint: '' } }), null, { name: 'data', size_bytes: 4096, hosts: ['h1', 'h5', 'h6'] });
    expect(paths(bad.diagnostics)).toEqual([
      ['hosts', 1],
      ['hosts', 2],
    ]);
    expect(text(bad.diagnostics)).toMatch(/"h5" is not a storage host: its agent has the roles compute/);
    expect(text(bad.diagnostics)).toMatch(/"h6" listens on no TCP address.*add one on its underlay address/);

    const unknownHost = await plan(lab(), null, { name: 'data', size_bytes: 4096, hosts: ['h1', 'h9', 'h2'] });
    expect(paths(unknownHost.diagnostics)).toEqual([['hosts', 1]]);
    expect(text(unknownHost.diagnostics)).toMatch(/"h9" is not one of the provider's hosts/);
  });

  it('leaves placement to apply while the name is unknown, but still counts storage hosts', async () => {
    const { planned, diagnostics } = await plan(lab(), null, { name: unknown, size_bytes: 4096 });
    expect(diagnostics).toEqual([]);
    expect(planned.replicas).toBe(3);
    expect(isUnknown(planned.hosts) && isUnknown(planned.id)).toBe(true);
    expect(paths((await plan(lab(), null, { name: unknown, size_bytes: 4096, replicas: 5 })).diagnostics)).toEqual([['replicas']]);
  });

  describe('of an existing volume', () => {
    const prior = configOf({
      id: 'data',
      name: 'data',
      size_bytes: 32 * MiB,
      replicas: 3,
      hosts: ['h2', 'h1', 'h3'],
      export_uri: 'nbd://192.0.2.12:10809/data',
      status: 'healthy',
      leader: 'h2',
    });

    it('plans nothing when nothing changed, with hosts and replicas left out of the config', async () => {
      const fleet = lab();
      const { planned, requiresReplace, diagnostics } = await plan(fleet, prior, { name: 'data', size_bytes: 32 * MiB });
      expect(diagnostics).toEqual([]);
      expect(requiresReplace).toEqual([]);
      expect(planned).toEqual(prior);
      // Nothing to place: the agents are not asked.
      expect(fleet.agents.calls).toEqual([]);
    });

    it('grows in place: no replacement, and what may change meanwhile is unknown', async () => {
      const { planned, requiresReplace, diagnostics } = await plan(lab(), prior, { name: 'data', size_bytes: 64 * MiB });
      expect(diagnostics).toEqual([]);
      expect(requiresReplace).toEqual([]);
      expect(planned.size_bytes).toBe(64 * MiB);
      expect(planned.hosts).toEqual(['h2', 'h1', 'h3']);
      expect(isUnknown(planned.status) && isUnknown(planned.leader) && isUnknown(planned.export_uri)).toBe(true);
    });

    it('refuses to shrink, on size_bytes, saying how to keep the data or recreate it', async () => {
      const { diagnostics } = await plan(lab(), prior, { name: 'data', size_bytes: 16 * MiB });
      expect(paths(diagnostics)).toEqual([['size_bytes']]);
      expect(diagnostics[0]!.summary).toBe('Volumes cannot shrink');
      expect(diagnostics[0]!.detail).toMatch(/Volume "data" has 33554432 bytes \(32 MiB\); size_bytes = 16777216 \(16 MiB\) would cut off its end/);
      expect(diagnostics[0]!.detail).toMatch(
        /Keep size_bytes at 33554432 or more\. To recreate the volume smaller, losing all its data, mark it for replacement first: terraform taint ADDRESS/,
      );
    });

    it('lets a replacement the config asks for be smaller: that is a new volume', async () => {
      const { requiresReplace, diagnostics } = await plan(lab(), prior, { name: 'data', size_bytes: 16 * MiB, replicas: 1 });
      expect(diagnostics).toEqual([]);
      expect(requiresReplace).toEqual([['replicas']]);
      const renamed = await plan(lab(), prior, { name: 'other', size_bytes: 16 * MiB });
      expect(renamed.requiresReplace).toEqual([['name']]);
      expect(renamed.diagnostics).toEqual([]);
    });

    it('moves in place for other hosts given in config, checked like a placement; the same ones change nothing', async () => {
      const same = await plan(lab(), prior, { name: 'data', size_bytes: 32 * MiB, hosts: ['h2', 'h1', 'h3'] });
      expect(same.requiresReplace).toEqual([]);
      expect(same.planned).toEqual(prior);
      const moved = await plan(lab(), prior, { name: 'data', size_bytes: 32 * MiB, hosts: ['h2', 'h1', 'h4'] });
      expect(moved.requiresReplace).toEqual([]);
      expect(moved.diagnostics).toEqual([]);
      expect(moved.planned.hosts).toEqual(['h2', 'h1', 'h4']);
      expect(isUnknown(moved.planned.status) && isUnknown(moved.planned.leader) && isUnknown(moved.planned.export_uri)).toBe(true);
      const compute = await plan(lab(), prior, { name: 'data', size_bytes: 32 * MiB, hosts: ['h2', 'h1', 'h5'] });
      expect(paths(compute.diagnostics)).toEqual([['hosts', 2]]);
      expect(compute.diagnostics[0]!.detail).toMatch(/"h5" is not a storage host/);
    });
  });
});

describe('vxcloud_block_volume apply', () => {
  it('creates the volume on its placed hosts with their peer endpoints, once it is healthy', async () => {
    const fleet = lab();
    fleet.agents.electionPolls = 3;
    const state = await apply(fleet, { name: 'data', size_bytes: 32 * MiB });
    const hosts = state.hosts as string[];
    expect(state).toMatchObject({ id: 'data', name: 'data', size_bytes: 32 * MiB, replicas: 3, status: 'healthy', leader: hosts[0] });
    expect(state.export_uri).toBe(`nbd://192.0.2.1${hosts[0]!.slice(1)}:10809/data`);
    expect(fleet.agents.holders('data').sort()).toEqual([...hosts].sort());
    expect(fleet.agents.calls).toContain(`${hosts[0]} CreateVolume data ${32 * MiB} ${hosts.map((h) => `${h}=192.0.2.1${h.slice(1)}:7443`).join(',')}`);
  });

  it('refuses a name another volume has, leaving that volume alone', async () => {
    const fleet = lab();
    await apply(fleet, { name: 'data', size_bytes: 32 * MiB });
    const p = await plan(fleet, null, { name: 'data', size_bytes: 64 * MiB });
    const e = await failure(blockVolume.create({ planned: p.planned, config: configOf({ name: 'data', size_bytes: 64 * MiB }) }, ctx(fleet)));
    expect(paths(e.diagnostics)).toEqual([['name']]);
    expect(text(e.diagnostics)).toMatch(/already hold a volume named "data" \(33554432 bytes\)\. Import it/);
    expect(fleet.agents.holders('data')).toHaveLength(3);
    expect(fleet.agents.calls.filter((c) => c.includes('DeleteVolume'))).toEqual([]);
  });

  it('deletes what a failed create made, and reports the failure on the attribute the agent names', async () => {
    const fleet = lab();
    const p = await plan(fleet, null, { name: 'data', size_bytes: 32 * MiB });
    fleet.agents.failReplicaOn.add((p.planned.hosts as string[])[2]!);
    const e = await failure(blockVolume.create({ planned: p.planned, config: configOf({ name: 'data', size_bytes: 32 * MiB }) }, ctx(fleet)));
    expect(e.state).toBeUndefined();
    expect(paths(e.diagnostics)).toEqual([['hosts']]);
    expect(text(e.diagnostics)).toMatch(/Creating the volume failed on host h\d: hosts: h\d: disk full/);
    expect(fleet.agents.holders('data')).toEqual([]);
  });

  it('reads the volume from the first placed host that answers, and drops it when every host has none', async () => {
    const fleet = lab();
    const state = await apply(fleet, { name: 'data', size_bytes: 32 * MiB });
    const [first, second] = state.hosts as [string, string];
    fleet.agents.hosts[first]!.down = true;
    const read = await blockVolume.read(state, ctx(fleet));
    expect(read).toMatchObject({ ...state, export_uri: `nbd://192.0.2.1${second.slice(1)}:10809/data` });
    // Gone from the hosts that answer, one host silent: it may still be there, so no verdict.
    for (const m of fleet.agents.volumes.values()) m.delete('data');
    expect(text((await failure(blockVolume.read(state, ctx(fleet)))).diagnostics)).toMatch(/Reading the volume failed on host h\d: No connection established/);
    fleet.agents.hosts[first]!.down = false;
    expect(await blockVolume.read(state, ctx(fleet))).toBeNull();
  });

  it('grows in place through a replica host that answers', async () => {
    const fleet = lab();
    const state = await apply(fleet, { name: 'data', size_bytes: 32 * MiB });
    const hosts = state.hosts as string[];
    fleet.agents.hosts[hosts[0]!]!.down = true;
    const p = await plan(fleet, state, { name: 'data', size_bytes: 64 * MiB });
    const grown = await blockVolume.update({ prior: state, planned: p.planned, config: configOf({ name: 'data', size_bytes: 64 * MiB }) }, ctx(fleet));
    expect(grown).toMatchObject({ size_bytes: 64 * MiB, hosts, replicas: 3 });
    expect(fleet.agents.calls).toContain(`${hosts[1]} GrowVolume data ${64 * MiB}`);
    // A size unknown at plan time that turns out smaller is refused at apply.
    const e = await failure(blockVolume.update({ prior: grown, planned: { ...p.planned, size_bytes: 16 * MiB }, config: configOf({}) }, ctx(fleet)));
    expect(paths(e.diagnostics)).toEqual([['size_bytes']]);
  });

  it('deletes from every host, and says which host it could not reach', async () => {
    const fleet = lab();
    const state = await apply(fleet, { name: 'data', size_bytes: 32 * MiB });
    await blockVolume.delete(state, ctx(fleet));
    expect(fleet.agents.holders('data')).toEqual([]);
    await blockVolume.delete(state, ctx(fleet)); // already gone: fine
    const again = await apply(fleet, { name: 'data', size_bytes: 32 * MiB });
    fleet.agents.hosts[(again.hosts as string[])[1]!]!.down = true;
    const e = await failure(blockVolume.delete(again, ctx(fleet)));
    expect(text(e.diagnostics)).toMatch(/Deleting the volume failed on host h\d: No connection established/);
  });

  it('imports by name: the hosts come from the agents', async () => {
    const fleet = lab();
    const state = await apply(fleet, { name: 'data', size_bytes: 32 * MiB });
    expect(await blockVolume.importState!('data', ctx(fleet))).toEqual({ id: 'data', name: 'data', hosts: state.hosts });
    await expect(Promise.resolve(blockVolume.importState!('nope', ctx(fleet)))).rejects.toThrow('no storage host has a volume named "nope"');
    await expect(Promise.resolve(blockVolume.importState!('Bad', ctx(fleet)))).rejects.toThrow(/1-63 lower-case/);
  });
});

describe('humanSize', () => {
  it('names whole units, else bytes', () => {
    expect([humanSize(64 * MiB), humanSize(4096), humanSize(3 * 2 ** 30), humanSize(4097), humanSize(1536 * 1024)]).toEqual([
      '64 MiB',
      '4 KiB',
      '3 GiB',
      '4097 bytes',
      '1536 KiB',
    ]);
  });
});
