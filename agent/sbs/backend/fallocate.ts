// fallocate(2) through koffi: Node's fs has no way to punch holes or zero ranges in place, and
// writing zeroes would allocate the very blocks a sparse replica wants to give back.
import koffi from 'koffi';

export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_ZERO_RANGE = 0x10;

type AsyncFallocate = (fd: number, mode: number, offset: number, length: number, callback: (err: unknown, result: number) => void) => void;

let binding: AsyncFallocate | null | undefined;

function load(): AsyncFallocate | null {
  if (binding !== undefined) return binding;
  try {
    const libc = koffi.load('libc.so.6');
    const fn = libc.func('int fallocate(int fd, int mode, int64_t offset, int64_t len)');
    binding = fn.async as AsyncFallocate;
  } catch {
    // Not glibc Linux: callers fall back to writing zeroes.
    binding = null;
  }
  return binding;
}

/**
 * Runs fallocate on libuv's thread pool (koffi async) so the event loop never blocks on it.
 * Resolves false when the call is unavailable or fails (e.g. EOPNOTSUPP on the filesystem),
 * leaving the caller to choose a fallback.
 */
export function fallocate(fd: number, mode: number, offset: number, length: number): Promise<boolean> {
  const fn = load();
  if (fn === null) return Promise.resolve(false);
  return new Promise((resolve) => {
    fn(fd, mode, offset, length, (err, result) => resolve(err == null && result === 0));
  });
}
