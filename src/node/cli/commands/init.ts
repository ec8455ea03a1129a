import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseToml, stringify as toToml } from 'smol-toml';
import { BridgeError } from '../../../errors.js';
import { readConfigFile } from '../../config/load.js';
import { formatGenesis, readGenesis } from '../../genesis/genesis.js';
import { PRESET_NAMES, presetPath } from '../../config/presets.js';
import { dataDirFlag, globalsOf, writeLine, type CliIo } from '../context.js';

export function registerInitCommand(program: Command, io: CliIo): void {
  program
    .command('init')
    .description('write a starting config and data directory')
    .requiredOption('--network <name|file>', `a preset (${PRESET_NAMES.join(', ')}) or a TOML file to start from`)
    .option('--force', 'replace an existing config.toml')
    .option('--genesis <file>', 'the federation\'s genesis file: checked and copied to <datadir>/genesis.json')
    .addHelpText('after', '\nThe data directory is --datadir (or FEDNODE_DATADIR, default ~/.fednode).\nNext steps: fednode keys new; fednode config validate; fednode start.')
    .action(async (opts: { network: string; force?: boolean; genesis?: string }, cmd: Command) => {
      const dataDir = dataDirFlag(globalsOf(cmd), io.env);
      const source = PRESET_NAMES.includes(opts.network) ? presetPath(opts.network) : resolve(opts.network);
      if (!existsSync(source)) {
        throw new BridgeError({
          code: 'INIT_UNKNOWN_NETWORK',
          message: `unknown network ${JSON.stringify(opts.network)}: use one of ${PRESET_NAMES.join(', ')} or the path of a config file`,
        });
      }
      readConfigFile(source); // fail early on a file that is not TOML
      // Fail early on a genesis file that does not parse, before writing anything.
      const genesis = opts.genesis !== undefined ? await readGenesis(resolve(opts.genesis)) : undefined;
      const target = join(dataDir, 'config.toml');
      if (existsSync(target) && !opts.force) {
        throw new BridgeError({ code: 'INIT_EXISTS', message: `${target} already exists (use --force to replace it)`, file: target });
      }
      await mkdir(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
      // The data directory is where the config lives: keep the copy relocatable.
      const text = await readFile(source, 'utf8');
      const tree = parseToml(text) as Record<string, unknown>;
      const out = 'dataDir' in tree && tree.dataDir !== '.' ? toToml({ ...tree, dataDir: '.' }) : text;
      await writeFile(target, out, { mode: 0o600 });
      writeLine(io.stdout, `wrote ${target} (from ${source})`);
      writeLine(io.stdout, `data directory: ${dataDir}`);
      if (genesis !== undefined) {
        const genesisTarget = join(dataDir, 'genesis.json');
        if (existsSync(genesisTarget) && !opts.force) throw new BridgeError({ code: 'INIT_EXISTS', message: `${genesisTarget} already exists (use --force to replace it)`, file: genesisTarget });
        await writeFile(genesisTarget, formatGenesis(genesis));
        writeLine(io.stdout, `wrote ${genesisTarget} (network ${genesis.network}, chain id ${genesis.chainId}, epoch 0 of ${genesis.epoch0.validators.length} validators)`);
      }
      writeLine(io.stdout, 'next: fednode keys new, then fednode config validate, then fednode start');
    });
}
