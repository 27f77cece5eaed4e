// A small flag parser with the habits of the Dapr CLI (cobra/pflag): `--flag value`,
// `--flag=value`, short aliases, repeatable flags, booleans that also take `=true|false`, and
// the app command after `--` (or from the first bare word).

export type FlagType = 'string' | 'boolean' | 'int';

export interface FlagSpec {
  type: FlagType;
  short?: string;
  multiple?: boolean;
  /** Other names for the same flag (e.g. --components-path for --resources-path). */
  aliases?: string[];
}

export type FlagValues = Record<string, string | boolean | number | string[] | undefined>;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface Parsed {
  flags: FlagValues;
  /** Names of the flags the user actually gave. */
  given: Set<string>;
  command: string[];
}

export function parseArgs(argv: readonly string[], specs: Readonly<Record<string, FlagSpec>>, allowCommand: boolean): Parsed {
  const byName = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) {
    byName.set(`--${name}`, name);
    if (spec.short) byName.set(`-${spec.short}`, name);
    for (const a of spec.aliases ?? []) byName.set(`--${a}`, name);
  }
  const flags: FlagValues = {};
  const given = new Set<string>();
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (!allowCommand) throw new UsageError(`unexpected argument ${arg}`);
      break;
    }
    const eq = arg.indexOf('=');
    const key = eq > 0 ? arg.slice(0, eq) : arg;
    const name = byName.get(key);
    if (!name) throw new UsageError(`unknown flag ${key}`);
    const spec = specs[name]!;
    let raw: string | undefined = eq > 0 ? arg.slice(eq + 1) : undefined;
    if (spec.type === 'boolean') {
      if (raw === undefined) flags[name] = true;
      else if (raw === 'true' || raw === 'false') flags[name] = raw === 'true';
      else throw new UsageError(`flag ${key}: expected true or false, got ${raw}`);
      given.add(name);
      continue;
    }
    if (raw === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag ${key} needs a value`);
      raw = argv[++i]!;
    }
    let value: string | number = raw;
    if (spec.type === 'int') {
      if (!/^-?\d+$/.test(raw.trim())) throw new UsageError(`flag ${key}: expected an integer, got ${raw}`);
      value = Number(raw);
    }
    if (spec.multiple) {
      const list = (flags[name] as string[] | undefined) ?? [];
      list.push(...String(value).split(',').filter(Boolean));
      flags[name] = list;
    } else {
      flags[name] = value;
    }
    given.add(name);
  }
  return { flags, given, command: argv.slice(i) };
}
