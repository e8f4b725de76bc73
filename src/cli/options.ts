import { type Command, InvalidArgumentError } from 'commander';
import { type EventWeights, parseEventWeights } from '../data/event-weights.js';

/** Option parsers that reject bad values with a message naming what was expected. */
export function intArg(min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected an integer, got "${value}"`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected an integer between ${min} and ${max}, got ${n}`);
    return n;
  };
}

/** Decimal notation only: Number() would also take "0x10", "0b1" and "Infinity". */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export function floatArg(min = -Infinity, max = Infinity): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (!DECIMAL.test(value.trim()) || !Number.isFinite(n))
      throw new InvalidArgumentError(`expected a number, got "${value}"`);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a number between ${min} and ${max}, got ${n}`);
    return n;
  };
}

/** Comma-separated integers, e.g. layer widths `128,64`: between 1 and `maxCount` of them, each in [min, max]. */
export function intListArg(min: number, max: number, maxCount: number): (value: string) => number[] {
  const one = intArg(min, max);
  return (value: string): number[] => {
    const parts = value.split(',');
    if (parts.length > maxCount)
      throw new InvalidArgumentError(`expected at most ${maxCount} comma-separated integers, got ${parts.length}`);
    return parts.map((p) => one(p));
  };
}

/** `view=1,cart=3,purchase=5` (see parseEventWeights). */
export function eventWeightsArg(value: string): EventWeights {
  try {
    return parseEventWeights(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

export function choiceArg<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value))
      throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got "${value}"`);
    return value as T;
  };
}

/** A name that becomes one directory level (a bundle name): no separators, no "..", nothing hidden. */
export function nameArg(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(value))
    throw new InvalidArgumentError(
      `expected a name of letters, digits, ".", "_" and "-" (starting with a letter or digit), got "${value}"; use --out for a path`,
    );
  return value;
}

const REQUIRED = new WeakMap<Command, string[]>();

/**
 * Marks options a command cannot run without. Checked before the action (see checkRequired) but
 * after commander's check for unknown options: commander's own mandatory options are checked first,
 * so `train --dataset x` said "--data not specified" instead of naming the misspelt flag.
 */
export function requireOptions<T extends Command>(cmd: T, ...attributes: string[]): T {
  REQUIRED.set(cmd, attributes);
  return cmd;
}

/** A preAction hook: the first required option the command was not given is a usage error. */
export function checkRequired(_program: Command, cmd: Command): void {
  for (const attribute of REQUIRED.get(cmd) ?? []) {
    if (cmd.getOptionValue(attribute) !== undefined) continue;
    const option = cmd.options.find((o) => o.attributeName() === attribute);
    cmd.error(`error: required option '${option?.flags ?? attribute}' not specified`, {
      exitCode: 2,
      code: 'commander.missingMandatoryOptionValue',
    });
  }
}
