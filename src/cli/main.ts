#!/usr/bin/env node
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { reportFor } from './errors.js';
import { checkRequired } from './options.js';
import { registerDemo } from './commands/demo.js';
import { registerGenerate } from './commands/generate.js';
import { registerInspect } from './commands/inspect.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerTrain } from './commands/train.js';
import { registerServe } from './commands/serve.js';
import { registerBatchScore } from './commands/batch-score.js';
import { registerPromotions } from './commands/promotions.js';
import { registerLoadtest } from './commands/loadtest.js';
import { registerExperiments } from './commands/experiments.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('vitrine')
  .description('Vitrine: recommendation scoring server for e-commerce personalisation')
  .version(pkg.version)
  .showHelpAfterError('(run with --help for usage)')
  // Usage errors exit 2 like other bad input (commander would exit 1); subcommands inherit this.
  .exitOverride()
  .hook('preAction', checkRequired);

registerDemo(program);
registerGenerate(program);
registerInspect(program);
registerTrain(program);
registerEvaluate(program);
registerServe(program);
registerBatchScore(program);
registerPromotions(program);
registerLoadtest(program);
registerExperiments(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const { message, exit } = reportFor(err);
  if (message) process.stderr.write(`${message}\n`);
  process.exit(exit);
});
