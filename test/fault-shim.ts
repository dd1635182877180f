// Builds test/fault-shim.c (an LD_PRELOAD library that fails chosen fsync and
// write calls; its header describes the rules) and names what a child process
// needs to run under it.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface FaultShim {
  /** The command prefix that runs a child under the shim (for `spawnScript`'s `prefix`). */
  prefix: string[];
  /** Replaces the rules (one a line: `<calls> <path-part> <errno> <skip> <times>`). */
  arm(rules: string): void;
  /** Each failure injected so far, as `<call> <errno> <path>`. */
  hits(): string[];
}

/** Compiles the shim into `dir` with `cc`, with its control file beside it. */
export function buildFaultShim(dir: string): FaultShim {
  const library = join(dir, 'fault-shim.so');
  execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', library, resolve('test/fault-shim.c'), '-ldl']);
  const control = join(dir, 'faults');
  writeFileSync(control, '');
  const hitsFile = `${control}.hits`;
  return {
    prefix: ['env', `LD_PRELOAD=${library}`, `FJORD_FAULTS=${control}`],
    arm: (rules) => writeFileSync(control, rules),
    hits: () =>
      existsSync(hitsFile)
        ? readFileSync(hitsFile, 'utf8')
            .split('\n')
            .filter((line) => line !== '')
        : [],
  };
}
