// Prometheus scrapes of lab agents, parsed into samples a test can look up by name and labels.

import type { TlsMaterial } from '../../lib/agent-client.js';
import { readTls } from '../../lib/agent-client.js';
import { scrapeMetrics } from '../../vxctl/metrics.js';
import type { TestLab } from './lab.js';

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The text exposition format: `name{a="x",b="y"} value` per line, comments skipped. */
export function parseMetrics(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The samples of `name` whose labels include `labels`. */
function samples(all: MetricSample[], name: string, labels: Record<string, string> = {}): MetricSample[] {
  return all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The one sample of `name` with `labels` (undefined when there is none). */
export function metric(all: MetricSample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples(all, name, labels);
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0]?.value;
}

/** GET /metrics of a lab host, with the lab's operator certificate unless `tls` is given. */
export async function scrape(t: TestLab, host: string, tls?: TlsMaterial): Promise<{ status: number; body: string; samples: MetricSample[] }> {
  const h = t.lab.hosts.find((x) => x.name === host)!;
  const r = await scrapeMetrics(h.metrics!, host, tls ?? (await readTls(t.lab.tls)));
  return { ...r, samples: r.status === 200 ? parseMetrics(r.body) : [] };
}
