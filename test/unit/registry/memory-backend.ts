// An in-memory TxnBackend with etcd's compare semantics (mod revision per key, 0 when absent),
// yielding on every read so that concurrent transactions interleave as they would over a network.

import type { Staged, TxnBackend } from '../../../agent/registry/txn.js';

export class MemoryBackend implements TxnBackend {
  readonly kv = new Map<string, { value: string; mod: number }>();
  readonly tombstones = new Set<string>();
  private rev = 0;
  commits = 0;
  conflicts = 0;

  async read(key: string): Promise<{ value: string; mod: number } | undefined> {
    await new Promise((r) => setImmediate(r));
    const e = this.kv.get(key);
    return e && { ...e };
  }

  async list(prefix: string): Promise<Map<string, string>> {
    await new Promise((r) => setImmediate(r));
    return new Map([...this.kv].filter(([k]) => k.startsWith(prefix)).map(([k, e]) => [k, e.value]));
  }

  async commit(s: Staged): Promise<boolean> {
    await new Promise((r) => setImmediate(r));
    for (const [key, mod] of s.reads) {
      if ((this.kv.get(key)?.mod ?? 0) !== mod) {
        this.conflicts++;
        return false;
      }
    }
    this.rev++;
    for (const [key, p] of s.puts) {
      this.kv.set(key, { value: p.value, mod: this.rev });
      if (p.tombstone) this.tombstones.add(key);
    }
    for (const key of s.deletes) this.kv.delete(key);
    this.commits++;
    return true;
  }

  /** What a tombstone lease's expiry does. */
  expireTombstones(): void {
    for (const k of this.tombstones) this.kv.delete(k);
    this.tombstones.clear();
  }

  keys(): string[] {
    return [...this.kv.keys()].sort();
  }
}
