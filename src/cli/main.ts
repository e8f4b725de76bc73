#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { DataError } from '../data/errors.js';
import { UserError } from '../util/errors.js';
import { fileSystemReason } from './fs-errors.js';
import { registerDemo } from './commands/demo.js';
import { registerGenerate } from './commands/generate.js';
import { registerInspect } from './commands/inspect.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerTrain } from './commands/train.js';
import { registerServe } from './commands/serve.js';
import { registerBatchScore } from './commands/batch-score.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('vitrine')
  .description('Vitrine: recommendation scoring server for e-commerce personalisation')
  .version(pkg.version)
  .showHelpAfterError('(run with --help for usage)')
  // Usage errors exit 2 like other bad input (commander would exit 1); subcommands inherit this.
  .exitOverride();

registerDemo(program);
registerGenerate(program);
registerInspect(program);
registerTrain(program);
registerEvaluate(program);
registerServe(program);
registerBatchScore(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  // Commander has already printed the message (or the help or version asked for).
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  if (err instanceof DataError) {
    // Bad input is the user's to fix: say where, without a stack trace.
    process.stderr.write(`vitrine: data error: ${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof UserError) {
    process.stderr.write(`vitrine: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  const fsReason = fileSystemReason(err);
  if (fsReason) {
    // A path the user named (or a directory under it) cannot be read or written: say which and why.
    process.stderr.write(`vitrine: ${fsReason}\n`);
    process.exit(2);
  }
  if (err instanceof RangeError) {
    process.stderr.write(`vitrine: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`vitrine: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
