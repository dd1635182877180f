// The package's executables as someone who installed fjord gets them: the
// compiled files in an installed layout (package.json, dist/, the addon and
// a node_modules holding only the runtime dependencies), without the
// devDependencies (vega, lmdb, better-sqlite3). fjord-bench runs a small
// sweep there and names the peer rows and the chart it skipped. And the
// demo's argument errors.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

import { runScript } from './child-process.js';
import { tempDir } from './helpers.js';

const ts = createRequire(import.meta.url)('typescript') as typeof import('typescript');

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourcesUnder(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

/**
 * The installed package in a new directory: src/ and bench/ compiled to
 * dist/ as `npm run build:ts` lays them out (type-stripped by TypeScript
 * here, so no shared dist/ is involved), package.json, the addon, and one
 * symlink per runtime dependency.
 */
function installedPackage(): string {
  const root = tempDir('fjord-installed-');
  for (const file of [...sourcesUnder('src'), ...sourcesUnder('bench')]) {
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    const out = join(root, 'dist', file.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
  copyFileSync('package.json', join(root, 'package.json'));
  mkdirSync(join(root, 'native'));
  copyFileSync('native/fjord.node', join(root, 'native', 'fjord.node'));
  const { dependencies } = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
  for (const name of Object.keys(dependencies)) {
    mkdirSync(dirname(join(root, 'node_modules', name)), { recursive: true });
    symlinkSync(resolve('node_modules', name), join(root, 'node_modules', name));
  }
  return root;
}

function run(cwd: string, file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [file, ...args], { cwd }, (error, stdout, stderr) =>
      done({ code: error === null ? 0 : (error.code as number), stdout, stderr }),
    );
  });
}

describe('fjord-bench installed without the devDependencies', () => {
  it('prints its usage, and runs a small sweep with the Fjord and floor rows, naming the lmdb and sqlite rows and the chart as skipped', async () => {
    const root = installedPackage();
    // Nothing above the package provides what node_modules lacks.
    for (let dir = dirname(root); dir !== dirname(dir); dir = dirname(dir)) expect(existsSync(join(dir, 'node_modules', 'lmdb'))).toBe(false);
    const bin = join(root, 'dist', 'bench', 'fjord-bench.js');

    const help = await run(root, bin, ['--help']);
    expect([help.code, help.stdout.split('\n')[0], help.stderr]).toEqual([
      0,
      'usage: fjord-bench [--quick] [--max-message-bytes N] [--stores fjord,lmdb,sqlite,floor] [--sizes 100,1024,...] [--cell-seconds S] [--memory-gib G] [--out DIR]',
      '',
    ]);
    const unknown = await run(root, bin, ['--bogus']);
    expect([unknown.code, unknown.stderr.split('\n')[0]]).toEqual([2, "fjord-bench: Unknown option '--bogus'"]);
    const named = await run(root, bin, ['--stores', 'fjord,lmdb']);
    expect([named.code, named.stderr]).toEqual([2, 'fjord-bench: --stores: lmdb cannot run here: package lmdb is not installed\n']);

    const out = join(root, 'results');
    const sweep = await run(root, bin, ['--quick', '--sizes', '100', '--cell-seconds', '0.05', '--memory-gib', '0.01', '--out', out]);
    expect(sweep.code, sweep.stderr).toBe(0);
    expect(sweep.stdout).toContain('skipped: lmdb (package lmdb is not installed)\nskipped: sqlite (package better-sqlite3 is not installed)\n');
    expect(sweep.stdout).toContain('chart: skipped (packages vega and vega-lite are not installed)');
    const [file] = readdirSync(out);
    const report = JSON.parse(readFileSync(join(out, file!), 'utf8')) as {
      settings: { stores: string[]; skippedStores: unknown[] };
      produce: { store: string }[];
    };
    expect(report.settings.stores).toEqual(['fjord', 'floor']);
    expect(report.settings.skippedStores).toEqual([
      { store: 'lmdb', reason: 'package lmdb is not installed' },
      { store: 'sqlite', reason: 'package better-sqlite3 is not installed' },
    ]);
    expect([...new Set(report.produce.map((r) => r.store))]).toEqual(['fjord', 'floor']);

    // The other executable loads there too.
    const cli = await run(root, join(root, 'dist', 'src', 'cli.js'), []);
    expect([cli.code, cli.stderr]).toEqual([
      2,
      'usage: fjord verify <data-dir> [--json]\n       fjord groups export-offsets --dir <data-dir> --group <group-id>\n',
    ]);
  }, 120_000);
});

describe('the demo', () => {
  const script = `import ${JSON.stringify(pathToFileURL(resolve('bench/demo.ts')).href)};\n`;

  it('prints its usage for --help and exits 0', async () => {
    const help = await runScript(tempDir(), script, ['--help']);
    expect([help.code, help.stdout.split('\n')[0], help.stderr]).toEqual([0, 'usage: demo [--records N] [--acks 0|1|all] [--consumers N] [--late-join]', '']);
  });

  it('names an unknown option and exits 2, without a stack trace', async () => {
    const bad = await runScript(tempDir(), script, ['--bogus']);
    expect([bad.code, bad.stderr]).toEqual([2, "demo: Unknown option '--bogus'\nusage: demo [--records N] [--acks 0|1|all] [--consumers N] [--late-join]\n"]);
  });
});
