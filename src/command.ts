// The `fjord` command line: argument parsing and exit codes. `src/cli.ts` is
// the executable; the work is in the library.
import { formatVerification, verifyDataDir } from './directory/verify.js';
import { FjordError, InvalidArgumentError } from './errors.js';

export const USAGE = 'usage: fjord verify <data-dir> [--json]\n';

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
