// Optimistic transactions over the registry: a function reads keys and stages writes; the commit
// succeeds only if every key it read is unchanged (etcd compares on mod revisions), otherwise the
// function runs again on fresh reads, and a refusal stands only if its reads still hold. This is
// how two agents allocating at once never hand out the same VNI or address, and how a stale
// writer fails instead of resurrecting a deleted object.

import { ApiError } from '../state/errors.js';

/** What a transaction function sees. Reads of `get` are checked at commit; `list` is not. */
export interface Txn {
  get(key: string): Promise<string | undefined>;
  /** Keys and values under a prefix (not checked at commit: check a chosen key with `get`). */
  list(prefix: string): Promise<Map<string, string>>;
  put(key: string, value: string): void;
  /** Put under the registry's tombstone lease: the key goes by itself after a few minutes. */
  putTombstone(key: string, value: string): void;
  delete(key: string): void;
}

export interface Staged {
  /** key → mod revision seen (0: the key was absent). */
  reads: Map<string, number>;
  puts: Map<string, { value: string; tombstone: boolean }>;
  deletes: Set<string>;
}

/** The store a transaction runs against: etcd (agent/registry/etcd.ts) or a test's map. */
export interface TxnBackend {
  read(key: string): Promise<{ value: string; mod: number } | undefined>;
  list(prefix: string): Promise<Map<string, string>>;
  /** Applies the writes if every read still holds; false if one changed. */
  commit(s: Staged): Promise<boolean>;
}

const TRIES = 40;

/** Another writer changed what this one read: read again after a short, spread-out pause. */
const pause = (attempt: number): Promise<void> => new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 + attempt * 5)));

export async function optimistic<T>(backend: TxnBackend, fn: (tx: Txn) => Promise<T>): Promise<T> {
  for (let attempt = 0; attempt < TRIES; attempt++) {
    const s: Staged = { reads: new Map(), puts: new Map(), deletes: new Set() };
    const tx: Txn = {
      async get(key) {
        const put = s.puts.get(key);
        if (put) return put.value;
        if (s.deletes.has(key)) return undefined;
        const e = await backend.read(key);
        if (!s.reads.has(key)) s.reads.set(key, e?.mod ?? 0);
        return e?.value;
      },
      list: (prefix) => backend.list(prefix),
      put(key, value) {
        s.deletes.delete(key);
        s.puts.set(key, { value, tombstone: false });
      },
      putTombstone(key, value) {
        s.deletes.delete(key);
        s.puts.set(key, { value, tombstone: true });
      },
      delete(key) {
        s.puts.delete(key);
        s.deletes.add(key);
      },
    };
    let result: T;
    try {
      result = await fn(tx);
    } catch (e) {
      // Reads are not one snapshot: a refusal may rest on a key another commit changed between
      // two reads (a subnet already gone from one key and listed in another). It stands only if
      // every key read is still as seen; otherwise the function runs again.
      if (!(e instanceof ApiError) || (await backend.commit({ reads: s.reads, puts: new Map(), deletes: new Set() }))) throw e;
      await pause(attempt);
      continue;
    }
    if (s.puts.size === 0 && s.deletes.size === 0) return result;
    if (await backend.commit(s)) return result;
    await pause(attempt);
  }
  throw new ApiError('ABORTED', '', `the registry stayed contended through ${TRIES} attempts: retry`);
}
