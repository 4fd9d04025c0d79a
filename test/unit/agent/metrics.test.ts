import { status as Status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../../agent/metrics/metrics.js';
import { instrument } from '../../../agent/metrics/rpc.js';
import { metric, parseMetrics } from '../../harness/metrics.js';

const scraped = async (m: AgentMetrics) => parseMetrics(await m.registry.metrics());

describe('agent metrics', () => {
  it('times unary handlers by method and status name, and leaves streams alone', async () => {
    const m = new AgentMetrics('h1');
    type Cb = (e: { code?: number } | null, r?: unknown) => void;
    const impl = {
      putVpc: (_call: unknown, cb: Cb) => cb(null, {}),
      getVpc: (_call: unknown, cb: Cb) => cb({ code: Status.NOT_FOUND }),
      step: (call: { streamed: boolean }) => (call.streamed = true),
    };
    const wrapped = instrument('NetworkService', impl, m);
    const answers: unknown[] = [];
    wrapped.putVpc({}, (e, r) => answers.push(e ?? r));
    wrapped.putVpc({}, (e, r) => answers.push(e ?? r));
    wrapped.getVpc({}, (e) => answers.push(e));
    const stream = { streamed: false };
    wrapped.step(stream);
    expect(answers).toEqual([{}, {}, { code: Status.NOT_FOUND }]);
    expect(stream.streamed).toBe(true);
    const s = await scraped(m);
    expect(metric(s, 'vxcloud_rpc_duration_seconds_count', { host: 'h1', method: 'NetworkService/PutVpc', code: 'OK' })).toBe(2);
    expect(metric(s, 'vxcloud_rpc_duration_seconds_count', { method: 'NetworkService/GetVpc', code: 'NOT_FOUND' })).toBe(1);
    expect(metric(s, 'vxcloud_rpc_duration_seconds_count', { method: 'NetworkService/Step' })).toBeUndefined();
  });

  it('counts reconcile passes by result, and what the last one left unconverged by kind', async () => {
    const m = new AgentMetrics('h1');
    m.reconciled(0.1, []);
    m.reconciled(0.2, ['nic n1: no namespace', 'nic n2: no namespace', 'stale link vxbr9: busy']);
    m.reconciled(0.3, undefined);
    let s = await scraped(m);
    expect(metric(s, 'vxcloud_reconcile_runs_total', { result: 'converged' })).toBe(1);
    expect(metric(s, 'vxcloud_reconcile_runs_total', { result: 'unconverged' })).toBe(1);
    expect(metric(s, 'vxcloud_reconcile_runs_total', { result: 'error' })).toBe(1);
    expect(metric(s, 'vxcloud_reconcile_duration_seconds_count')).toBe(3);
    // A failed pass says nothing of the objects: the last pass that ran keeps its figures.
    expect(metric(s, 'vxcloud_reconcile_unconverged', { kind: 'nic' })).toBe(2);
    expect(metric(s, 'vxcloud_reconcile_unconverged', { kind: 'stale' })).toBe(1);
    m.reconciled(0.1, []);
    s = await scraped(m);
    expect(metric(s, 'vxcloud_reconcile_unconverged', { kind: 'nic' })).toBeUndefined();
  });

  it('reads gauges at scrape time; a failing source leaves its gauge empty and the scrape whole', async () => {
    const m = new AgentMetrics('h1');
    let n = 1;
    m.gauge('test_things', 'things', ['kind'], () => [{ labels: { kind: 'a' }, value: n }]);
    m.gauge('test_broken', 'broken', ['kind'], async () => {
      throw new Error('source down');
    });
    expect(metric(await scraped(m), 'test_things', { kind: 'a' })).toBe(1);
    n = 5;
    const s = await scraped(m);
    expect(metric(s, 'test_things', { kind: 'a' })).toBe(5);
    expect(metric(s, 'test_broken')).toBeUndefined();
    expect(metric(s, 'vxcloud_agent_process_cpu_seconds_total')).toBeGreaterThanOrEqual(0);
  });
});
