// Cron schedules as Dapr reads them for the cron binding and the jobs API (dapr/kit cron, a
// robfig/cron descendant):
// six fields with seconds or five without, `*`/`?`, ranges, steps, lists, month and weekday
// names, the descriptors @yearly/@annually, @monthly, @weekly, @daily/@midnight, @hourly and
// `@every <duration>`, and an optional leading `TZ=<zone>` or `CRON_TZ=<zone>`. Without a zone
// the sidecar's local time is used.
import { parseGoDuration } from '../resources/duration.js';

export interface Schedule {
  /** The first firing strictly after `from` (epoch ms). */
  next(from: number): number;
  /** Go's Location name: "Local" or the zone given. */
  readonly zone: string;
}

interface Bounds {
  min: number;
  max: number;
  names?: Record<string, number>;
}

const MONTHS: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };
const DAYS: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
const FIELDS: Bounds[] = [
  { min: 0, max: 59 },
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTHS },
  { min: 0, max: 6, names: DAYS },
];
const FIELD_NAMES = ['second', 'minute', 'hour', 'day of month', 'month', 'day of week'];
const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 0 1 1 *',
  '@annually': '0 0 0 1 1 *',
  '@monthly': '0 0 0 1 * *',
  '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *',
  '@midnight': '0 0 0 * * *',
  '@hourly': '0 0 * * * *',
};

export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';
}

export interface ScheduleOptions {
  /** Refuse five-field specs (the jobs API wants seconds). */
  requireSeconds?: boolean;
  /** Zone used when the spec names none (default: the sidecar's local time). */
  zone?: string;
}

export function parseSchedule(spec: string, opts: ScheduleOptions = {}): Schedule {
  let text = spec.trim();
  if (text === '') throw new ScheduleError('empty spec string');
  let zone: string | undefined = opts.zone;
  const tz = /^(?:CRON_TZ|TZ)=(\S+)\s*/.exec(text);
  if (tz) {
    zone = tz[1]!;
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
    } catch {
      throw new ScheduleError(`provided bad location ${zone}: unknown time zone ${zone}`);
    }
    text = text.slice(tz[0].length).trim();
  }
  if (text.startsWith('@every ')) {
    const d = parseGoDuration(text.slice(7).trim());
    if (d === undefined || d <= 0) throw new ScheduleError(`failed to parse duration ${text}`);
    return everySchedule(d, zone);
  }
  if (text.startsWith('@')) {
    const expanded = DESCRIPTORS[text.toLowerCase()];
    if (!expanded) throw new ScheduleError(`unrecognized descriptor: ${text}`);
    text = expanded;
  }
  const parts = text.split(/\s+/);
  if (opts.requireSeconds && parts.length !== 6) throw new ScheduleError(`expected exactly 6 fields, found ${parts.length}: ${text}`);
  if (parts.length === 5) parts.unshift('0');
  if (parts.length !== 6) throw new ScheduleError(`expected 5 to 6 fields, found ${parts.length}: ${text}`);
  const sets = parts.map((p, i) => parseField(p, FIELDS[i]!, FIELD_NAMES[i]!));
  return new CronSchedule(sets as [FieldSet, FieldSet, FieldSet, FieldSet, FieldSet, FieldSet], zone);
}

interface FieldSet {
  values: Set<number>;
  /** Written as `*` or `?`: day-of-month and day-of-week then combine with AND. */
  star: boolean;
}

function parseField(expr: string, b: Bounds, field: string): FieldSet {
  const values = new Set<number>();
  let star = false;
  for (const part of expr.split(',')) {
    const [rangePart, stepPart, extra] = part.split('/');
    if (extra !== undefined) throw new ScheduleError(`too many slashes in the ${field} field: ${part}`);
    let lo: number;
    let hi: number;
    let isStar = false;
    if (rangePart === '*' || rangePart === '?') {
      lo = b.min;
      hi = b.max;
      isStar = true;
    } else {
      const [a, z, more] = rangePart!.split('-');
      if (more !== undefined) throw new ScheduleError(`too many hyphens in the ${field} field: ${part}`);
      lo = value(a!, b, field);
      hi = z !== undefined ? value(z, b, field) : lo;
    }
    let step = 1;
    if (stepPart !== undefined) {
      if (!/^\d+$/.test(stepPart) || Number(stepPart) === 0) throw new ScheduleError(`step of the ${field} field must be a positive number: ${part}`);
      step = Number(stepPart);
      // `a/n` runs from a to the field's end.
      if (!isStar && !rangePart!.includes('-')) hi = b.max;
      if (isStar && step > 1) isStar = false;
    }
    if (lo < b.min || hi > b.max || lo > hi) throw new ScheduleError(`${field} out of range (${b.min}-${b.max}): ${part}`);
    for (let v = lo; v <= hi; v += step) values.add(v);
    if (isStar) star = true;
  }
  return { values, star };
}

function value(text: string, b: Bounds, field: string): number {
  const named = b.names?.[text.toLowerCase()];
  if (named !== undefined) return named;
  if (!/^\d+$/.test(text)) throw new ScheduleError(`failed to parse int from ${text} in the ${field} field`);
  return Number(text);
}

interface Wall {
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

function wallClock(zone: string | undefined): (t: number) => Wall {
  if (!zone) {
    return (t) => {
      const d = new Date(t);
      return { month: d.getMonth() + 1, day: d.getDate(), hour: d.getHours(), minute: d.getMinutes(), second: d.getSeconds(), weekday: d.getDay() };
    };
  }
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: zone, hourCycle: 'h23', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short',
  });
  return (t) => {
    const w: Record<string, string> = {};
    for (const p of fmt.formatToParts(new Date(t))) w[p.type] = p.value;
    return { month: Number(w.month), day: Number(w.day), hour: Number(w.hour), minute: Number(w.minute), second: Number(w.second), weekday: DAYS[w.weekday!.toLowerCase()]! };
  };
}

class CronSchedule implements Schedule {
  readonly zone: string;
  private readonly wall: (t: number) => Wall;

  constructor(
    private readonly f: [FieldSet, FieldSet, FieldSet, FieldSet, FieldSet, FieldSet],
    zone: string | undefined,
  ) {
    this.zone = zone ?? 'Local';
    this.wall = wallClock(zone);
  }

  next(from: number): number {
    const [sec, min, hour, dom, month, dow] = this.f;
    let t = Math.floor(from / 1000) * 1000 + 1000;
    // Jump by the coarsest field that does not match; a schedule that never matches (Feb 30)
    // gives up after five years, as robfig/cron does.
    const limit = t + 5 * 366 * 86_400_000;
    while (t < limit) {
      const w = this.wall(t);
      const toNextDay = ((23 - w.hour) * 3600 + (59 - w.minute) * 60 + (60 - w.second)) * 1000;
      if (!month.values.has(w.month)) {
        t += toNextDay;
        continue;
      }
      const domOk = dom.values.has(w.day);
      const dowOk = dow.values.has(w.weekday);
      const dayOk = dom.star || dow.star ? domOk && dowOk : domOk || dowOk;
      if (!dayOk) {
        t += toNextDay;
        continue;
      }
      if (!hour.values.has(w.hour)) {
        t += ((59 - w.minute) * 60 + (60 - w.second)) * 1000;
        continue;
      }
      if (!min.values.has(w.minute)) {
        t += (60 - w.second) * 1000;
        continue;
      }
      if (!sec.values.has(w.second)) {
        t += 1000;
        continue;
      }
      return t;
    }
    return Number.POSITIVE_INFINITY;
  }
}

/** `@every d`: whole seconds (at least one), counted from each firing, as robfig's ConstantDelaySchedule. */
function everySchedule(ms: number, zone: string | undefined): Schedule {
  const delay = Math.max(1000, Math.floor(ms / 1000) * 1000);
  return {
    zone: zone ?? 'Local',
    next: (from) => Math.floor(from / 1000) * 1000 + delay,
  };
}

/** Go's time.Time.String() of an instant in UTC: "2006-01-02 15:04:05.123 +0000 UTC". */
export function goUtcString(t: number): string {
  const d = new Date(t);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const ms = d.getUTCMilliseconds();
  const frac = ms ? `.${p(ms, 3).replace(/0+$/, '')}` : '';
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}${frac} +0000 UTC`;
}
