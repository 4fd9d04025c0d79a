// The agent's Prometheus metrics (prom-client). Counters and histograms are updated where things
// happen (RPCs, reconcile passes, NBD I/O); gauges of state are read at scrape time from the parts
// that hold it (metrics/sources.ts), so a scrape never shows a stale copy.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** One sample of a gauge read at scrape time. */
export interface Sample<L extends string> {
  labels: Partial<Record<L, string>>;
  value: number;
}

/** RPCs take from under a millisecond (reads) to seconds (a router or volume being built). */
const RPC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class AgentMetrics {
  readonly registry = new Registry();

  readonly rpcDuration = new Histogram({
    name: 'vxcloud_rpc_duration_seconds',
    help: 'Agent API calls by method and gRPC status code, from the call arriving to its answer.',
    labelNames: ['method', 'code'] as const,
    buckets: RPC_BUCKETS,
    registers: [this.registry],
  });

  readonly reconcileRuns = new Counter({
    name: 'vxcloud_reconcile_runs_total',
    help: 'Whole-host reconcile passes: "converged" when every object converged, "unconverged" when some did not, "error" when the pass itself failed.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly reconcileDuration = new Histogram({
    name: 'vxcloud_reconcile_duration_seconds',
    help: 'Duration of whole-host reconcile passes.',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly unconverged = new Gauge({
    name: 'vxcloud_reconcile_unconverged',
    help: 'What the last reconcile pass failed to converge, by kind of object (the log says why).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly nbdBytes = new Counter({
    name: 'vxcloud_nbd_bytes_total',
    help: 'Bytes read and written by NBD clients, by volume.',
    labelNames: ['volume', 'op'] as const,
    registers: [this.registry],
  });

  readonly nbdRequests = new Counter({
    name: 'vxcloud_nbd_requests_total',
    help: 'NBD requests served, by volume and command (read, write, flush, trim, write_zeroes).',
    labelNames: ['volume', 'op'] as const,
    registers: [this.registry],
  });

  constructor(host: string) {
    this.registry.setDefaultLabels({ host });
    collectDefaultMetrics({ register: this.registry, prefix: 'vxcloud_agent_' });
  }

  /** A gauge whose samples `read` returns at each scrape; a failing read leaves the gauge empty. */
  gauge<L extends string>(name: string, help: string, labelNames: readonly L[], read: () => Promise<Sample<L>[]> | Sample<L>[]): void {
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        this.reset();
        const samples = await Promise.resolve()
          .then(read)
          .catch((): Sample<L>[] => []);
        for (const s of samples) this.set(s.labels, s.value);
      },
    });
  }

  /** A counter kept elsewhere (the userspace VTEP's), whose totals `read` returns at each scrape. */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[], read: () => Sample<L>[]): void {
    new Counter<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of read()) this.inc(s.labels, s.value);
      },
    });
  }

  /** Records a reconcile pass: its duration and what it left unconverged ("kind id: why" each). */
  reconciled(seconds: number, failed: readonly string[] | undefined): void {
    this.reconcileDuration.observe(seconds);
    if (failed === undefined) {
      this.reconcileRuns.inc({ result: 'error' });
      return;
    }
    this.reconcileRuns.inc({ result: failed.length === 0 ? 'converged' : 'unconverged' });
    this.unconverged.reset();
    for (const f of failed) this.unconverged.inc({ kind: f.split(/[ :]/, 1)[0]! });
  }
}
