import type { Command } from 'commander';
import { BridgeError } from '../../../errors.js';
import { globalsOf, loadEffectiveConfig, printJson, writeLine, type CliIo } from '../context.js';

export function registerStatusCommand(program: Command, io: CliIo): void {
  program
    .command('status')
    .description('query a running node (its HTTP /status and /readyz)')
    .option('--url <url>', 'node HTTP address (default: from the config, http.host and http.port)')
    .option('--json', 'print JSON')
    .action(async (opts: { url?: string; json?: boolean }, cmd: Command) => {
      let base = opts.url;
      if (base === undefined) {
        const { config } = loadEffectiveConfig(globalsOf(cmd), io.env);
        const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
        base = `http://${host.includes(':') ? `[${host}]` : host}:${config.http.port}`;
      }
      const get = async (path: string): Promise<{ code: number; body: unknown }> => {
        try {
          const res = await fetch(new URL(path, base), { signal: AbortSignal.timeout(5_000) });
          return { code: res.status, body: await res.json() };
        } catch (err) {
          throw new BridgeError({ code: 'NODE_UNREACHABLE', message: `no fednode answering at ${base}: ${(err as Error).message} (is it running? see --url)`, url: base });
        }
      };
      const [status, ready] = await Promise.all([get('/status'), get('/readyz')]);
      if (opts.json) return printJson(io.stdout, { status: status.body, readiness: ready.body });
      const s = status.body as Record<string, unknown>;
      const r = ready.body as { ready: boolean; checks: Array<{ name: string; ok: boolean; detail?: string }> };
      for (const [k, v] of Object.entries(s)) writeLine(io.stdout, `${k.padEnd(20)} ${v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
      writeLine(io.stdout, `${'readiness'.padEnd(20)} ${r.ready ? 'ready' : 'NOT READY'}`);
      for (const c of r.checks) writeLine(io.stdout, `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.detail ? ` (${c.detail})` : ''}`);
      if (!r.ready) process.exitCode = 1;
    });
}
