import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hostOf, newIncarnation, readMember, writeMember } from '../../../agent/sbs/volume/member.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
const tmp = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'vx-member-'));
  dirs.push(d);
  return d;
};

describe('raft member ids of replicas', () => {
  it('a first incarnation is its host; a re-created one is a new id of the same host', () => {
    expect(hostOf('h2')).toBe('h2');
    const next = newIncarnation('h2', 1_700_000_000_000);
    expect(next).toMatch(/^h2#[0-9a-z]+$/);
    expect(hostOf(next)).toBe('h2');
    expect(newIncarnation('h2', 1_700_000_005_000)).not.toBe(next);
  });

  it('reads the id a replica directory keeps, its host when it keeps none, and refuses another host’s', async () => {
    const d = await tmp();
    expect(await readMember(d, 'h2')).toBe('h2');
    await writeMember(d, 'h2#abc');
    expect(await readMember(d, 'h2')).toBe('h2#abc');
    await writeFile(join(d, 'member'), 'h3#abc\n');
    await expect(readMember(d, 'h2')).rejects.toThrow(/not of host h2/);
  });
});
