/**
 * Readiness: each subsystem registers a check; `/readyz` is ready only when
 * every check passes (e.g. false while a chain RPC is down or the node is
 * behind). Liveness (`/livez`) only says the process answers.
 */
export interface HealthStatus {
  ok: boolean;
  detail?: string;
}

export type HealthCheck = () => HealthStatus | Promise<HealthStatus>;

export interface ReadinessReport {
  ready: boolean;
  checks: Array<{ name: string } & HealthStatus>;
}

export class Health {
  private readonly checks = new Map<string, HealthCheck>();

  register(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  unregister(name: string): void {
    this.checks.delete(name);
  }

  async report(): Promise<ReadinessReport> {
    const checks = await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          return { name, ...(await check()) };
        } catch (err) {
          return { name, ok: false, detail: (err as Error).message };
        }
      }),
    );
    return { ready: checks.every((c) => c.ok), checks };
  }
}
