// The registry's store: etcd, over its own mutual TLS where configured. Optimistic transactions
// become one etcd Txn whose compares are the mod revisions the function read (0 = absent).

import { Etcd3, type Lease } from 'etcd3';
import type { Staged, TxnBackend } from './txn.js';

export interface EtcdSettings {
  endpoints: string[];
  /** etcd's own TLS: the CA that signed etcd's certificate, and this agent's client pair. */
  tls?: { ca: Buffer; cert: Buffer; key: Buffer };
}

/** Unary calls fail within this; a down etcd must not hold an API call for long. */
const CALL_DEADLINE_MS = 5000;
/**
 * Tombstones live two to four minutes (a lease is used for new ones until it is two minutes old):
 * longer than any call's deadline, so a late Put of a deleted object fails, and short enough that
 * a caller may choose the same id again for a new object soon after.
 */
const TOMBSTONE_SECONDS = 240;
const TOMBSTONE_REUSE_MS = 120_000;

export function etcdClient(s: EtcdSettings): Etcd3 {
  return new Etcd3({
    hosts: s.endpoints,
    dialTimeout: 3000,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
    ...(s.tls ? { credentials: { rootCertificate: s.tls.ca, certChain: s.tls.cert, privateKey: s.tls.key } } : {}),
  });
}

export class EtcdBackend implements TxnBackend {
  private tombstones: { lease: Lease; id: string; since: number } | undefined;

  constructor(private readonly client: Etcd3) {}

  async read(key: string): Promise<{ value: string; mod: number } | undefined> {
    const res = await this.client.kv.range({ key: Buffer.from(key) });
    const kv = res.kvs[0];
    return kv ? { value: kv.value.toString(), mod: Number(kv.mod_revision) } : undefined;
  }

  async list(prefix: string): Promise<Map<string, string>> {
    const res = await this.client.getAll().prefix(prefix).exec();
    return new Map(res.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]));
  }

  async commit(s: Staged): Promise<boolean> {
    const tombstone = [...s.puts.values()].some((p) => p.tombstone) ? await this.tombstoneLease() : '0';
    const res = await this.client.kv.txn({
      compare: [...s.reads].map(([key, mod]) =>
        mod === 0
          ? { key: Buffer.from(key), target: 'Version' as const, result: 'Equal' as const, version: '0' }
          : { key: Buffer.from(key), target: 'Mod' as const, result: 'Equal' as const, mod_revision: String(mod) },
      ),
      success: [
        ...[...s.puts].map(([key, p]) => ({ request_put: { key: Buffer.from(key), value: Buffer.from(p.value), lease: p.tombstone ? tombstone : '0' } })),
        ...[...s.deletes].map((key) => ({ request_delete_range: { key: Buffer.from(key) } })),
      ],
    });
    return res.succeeded;
  }

  private async tombstoneLease(): Promise<string> {
    if (!this.tombstones || Date.now() - this.tombstones.since > TOMBSTONE_REUSE_MS) {
      const lease = this.client.lease(TOMBSTONE_SECONDS, { autoKeepAlive: false });
      this.tombstones = { lease, id: await lease.grant(), since: Date.now() };
    }
    return this.tombstones.id;
  }
}
