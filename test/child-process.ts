// Runs a child Node process that imports Fjord straight from src/ (TypeScript),
// through a tiny module loader that strips types with the project's own
// `typescript` package. No build step, so a child always runs the source under
// test and two test files never race on a shared dist/ directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** `import ... from FJORD` in a child script: the TypeScript entry point. */
export const FJORD = pathToFileURL(resolve('src/index.ts')).href;

// Transpiled modules are cached by content hash, so only the first child of a
// run loads the TypeScript compiler.
const CACHE = join(tmpdir(), `fjord-test-ts-cache-${process.getuid?.() ?? 0}`);

const hooks = (typescript: string) => `
import { readFile, writeFile, rename, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
const cache = ${JSON.stringify(CACHE)};
let ts = null;

export async function resolve(specifier, context, next) {
  if (context.parentURL?.endsWith('.ts') && specifier.startsWith('.') && specifier.endsWith('.js')) {
    const url = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
    if (existsSync(fileURLToPath(url))) return { url: url.href, shortCircuit: true, format: 'module' };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const file = fileURLToPath(url);
  const source = await readFile(file, 'utf8');
  const cached = join(cache, createHash('sha256').update(file + '\\0' + source).digest('hex') + '.mjs');
  if (existsSync(cached)) return { format: 'module', source: await readFile(cached, 'utf8'), shortCircuit: true };
  ts ??= createRequire(import.meta.url)(${JSON.stringify(typescript)});
  const { outputText } = ts.transpileModule(source, {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
  });
  await mkdir(cache, { recursive: true });
  const tmp = cached + '.' + process.pid + '.tmp';
  await writeFile(tmp, outputText);
  await rename(tmp, cached);
  return { format: 'module', source: outputText, shortCircuit: true };
}
`;

export interface SpawnOptions {
  /** A command that runs the node command line it is given (e.g. through `sh -c '...; exec "$@"'`). */
  prefix?: string[];
  /** Give the child a stdin pipe (default: none). */
  stdin?: boolean;
  /** Node options before the script, e.g. `--unhandled-rejections=strict`. */
  nodeArgs?: string[];
}

/**
 * Writes `script` (an ES module; import Fjord from `FJORD`) and the loader to
 * `dir` and starts `node` on it, with the project root as working directory.
 */
export function spawnScript(dir: string, script: string, args: string[] = [], options: SpawnOptions = {}): ChildProcess {
  const hooksFile = join(dir, 'ts-hooks.mjs');
  writeFileSync(hooksFile, hooks(resolve('node_modules/typescript')));
  const registerFile = join(dir, 'ts-register.mjs');
  writeFileSync(registerFile, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooksFile).href)});\n`);
  const scriptFile = join(dir, `child-${process.hrtime.bigint()}.mjs`);
  writeFileSync(scriptFile, script);
  const command = [...(options.prefix ?? []), process.execPath, ...(options.nodeArgs ?? []), '--import', pathToFileURL(registerFile).href, scriptFile, ...args];
  return spawn(command[0]!, command.slice(1), {
    cwd: resolve('.'),
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
}

/** Runs a script to its end; resolves with its exit code and output. */
export function runScript(
  dir: string,
  script: string,
  args: string[] = [],
  options: SpawnOptions = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnScript(dir, script, args, options);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}
