import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Metrics factory. Every module asks it for its instruments so names follow
 * one scheme (`fednode_<subsystem>_<name>_{total,seconds,...}`) and all land
 * in the one registry that `/metrics` serves.
 */
export interface MetricsFactory {
  readonly registry: Registry;
  counter<L extends string = string>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  gauge<L extends string = string>(name: string, help: string, labelNames?: readonly L[]): Gauge<L>;
  histogram<L extends string = string>(name: string, help: string, labelNames?: readonly L[], buckets?: number[]): Histogram<L>;
}

const PREFIX = 'fednode_';

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): MetricsFactory {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: PREFIX });
  const full = (name: string): string => (name.startsWith(PREFIX) ? name : PREFIX + name);
  const existing = <T>(name: string): T | undefined => registry.getSingleMetric(full(name)) as T | undefined;
  return {
    registry,
    counter: (name, help, labelNames = []) =>
      existing(name) ?? new Counter({ name: full(name), help, labelNames: [...labelNames], registers: [registry] }),
    gauge: (name, help, labelNames = []) =>
      existing(name) ?? new Gauge({ name: full(name), help, labelNames: [...labelNames], registers: [registry] }),
    histogram: (name, help, labelNames = [], buckets) =>
      existing(name) ??
      new Histogram({
        name: full(name),
        help,
        labelNames: [...labelNames],
        registers: [registry],
        buckets: buckets ?? [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      }),
  };
}
