// The `fjord` command line: argument parsing and exit codes. `src/cli.ts` is
// the executable; the work is in the library.
import { stat } from 'node:fs/promises';
import { formatVerification, verifyDataDir } from './directory/verify.js';
import { FjordError, InvalidArgumentError } from './errors.js';
import { Fjord } from './fjord.js';
import { formatOffsetsCsv } from './groups/offsets-csv.js';

export const USAGE = 'usage: fjord verify <data-dir> [--json]\n       fjord groups export-offsets --dir <data-dir> --group <group-id>\n';

interface Output {
  write(text: string): unknown;
}

/**
 * Runs `fjord <args>`; resolves with the exit code: 0 clean, 1 problems
 * found, 2 a usage error or a directory that cannot be verified (not a data
 * directory, or open in another process).
 */
export async function runCommand(args: string[], stdout: Output, stderr: Output): Promise<number> {
  const [command, ...rest] = args;
  if (command === '--help' || command === '-h' || command === 'help') {
    stdout.write(USAGE);
    return 0;
  }
  if (command === 'groups') return groupsCommand(rest, stdout, stderr);
  if (command !== 'verify') {
    stderr.write(command === undefined ? USAGE : `fjord: unknown command ${JSON.stringify(command)}\n${USAGE}`);
    return 2;
  }
  const json = rest.includes('--json');
  const positional = rest.filter((a) => a !== '--json');
  const unknown = positional.find((a) => a.startsWith('-'));
  if (unknown !== undefined || positional.length !== 1) {
    stderr.write(unknown !== undefined ? `fjord verify: unknown option ${unknown}\n${USAGE}` : USAGE);
    return 2;
  }
  try {
    const result = await verifyDataDir(positional[0]!);
    stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : formatVerification(result));
    return result.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof InvalidArgumentError || error instanceof FjordError) {
      stderr.write(`fjord verify: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

/** The value after `--name`, or undefined; null when the option is there without a value. */
function option(args: string[], name: string): string | null | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  return value === undefined || value.startsWith('--') ? null : value;
}

/**
 * `fjord groups export-offsets --dir D --group G`: the group's committed
 * offsets as the CSV `kafka-consumer-groups.sh --reset-offsets --from-file`
 * reads. Opens the directory (so not while another process holds it).
 */
async function groupsCommand(args: string[], stdout: Output, stderr: Output): Promise<number> {
  const [sub, ...rest] = args;
  const dir = option(rest, '--dir');
  const group = option(rest, '--group');
  const known = new Set(['--dir', '--group']);
  const unknown = rest.find((a, i) => a.startsWith('--') && !known.has(a) && !known.has(rest[i - 1] ?? ''));
  if (sub !== 'export-offsets' || typeof dir !== 'string' || typeof group !== 'string' || unknown !== undefined || rest.length !== 4) {
    stderr.write(unknown !== undefined ? `fjord groups: unknown option ${unknown}\n${USAGE}` : USAGE);
    return 2;
  }
  const info = await stat(dir).catch(() => null);
  if (info === null || !info.isDirectory()) {
    stderr.write(`fjord groups export-offsets: ${dir} is not a directory\n`);
    return 2;
  }
  let fjord: Fjord | undefined;
  try {
    fjord = new Fjord({ dir });
    const offsets = await (await fjord.groupClient()).groupOffsets(group);
    stdout.write(formatOffsetsCsv(offsets));
    return 0;
  } catch (error) {
    if (error instanceof FjordError) {
      stderr.write(`fjord groups export-offsets: ${error.message}\n`);
      return 2;
    }
    throw error;
  } finally {
    await fjord?.close();
  }
}
