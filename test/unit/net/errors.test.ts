import { describe, expect, it } from 'vitest';
import { errnoName, toNetError } from '../../../agent/net/errors.js';
import { NetError } from '../../../agent/net/types.js';

describe('errno mapping', () => {
  it('names kernel errnos the way the kernel does', () => {
    expect(errnoName(17)).toBe('EEXIST');
    expect(errnoName(-19)).toBe('ENODEV');
    expect(errnoName(95)).toBe('EOPNOTSUPP');
    expect(errnoName(100000)).toBe('errno 100000');
  });

  it('turns library and fs errors into NetErrors carrying operation and object', () => {
    const fsErr = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT', errno: -2 });
    expect(toNetError(fsErr, 'create veth', 'netns x')).toMatchObject({ errno: 'ENOENT', message: 'create veth netns x: ENOENT' });
    const nlErr = Object.assign(new Error('Error when sending'), { name: 'ErrnoException', code: 'ENOBUFS', errno: 105 });
    expect(toNetError(nlErr, 'send', 'netlink request').errno).toBe('ENOBUFS');
    expect(toNetError(new Error('odd'), 'x', 'y')).toMatchObject({ errno: 'EIO', message: 'x y: EIO (odd)' });
    const same = new NetError('EEXIST', 'create vxlan', 'vx100');
    expect(toNetError(same, 'other', 'thing')).toBe(same);
    expect(same.message).toBe('create vxlan vx100: EEXIST');
  });
});
