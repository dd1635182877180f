#!/usr/bin/env node
// The `fjord` executable (package.json "bin"): `fjord verify <data-dir>`.
import { runCommand } from './command.js';

process.exitCode = await runCommand(process.argv.slice(2), process.stdout, process.stderr);
