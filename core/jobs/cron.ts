// Job schedules as Dapr's scheduler reads them: six cron fields with seconds first
// (`sec min hour dom month dow`), `@every <go duration>`, and the descriptors @yearly/@annually,
// @monthly, @weekly, @daily/@midnight, @hourly; evaluated in UTC.
// (The cron binding has its own reader in components/bindings, where core cannot reach it.)
import { parseGoDuration } from '../../resources/duration.js';

export interface JobCron {
  /** The first firing strictly after `from` (epoch ms). */
  next(from: number): number;
}

const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 0 1 1 *', '@annually': '0 0 0 1 1 *', '@monthly': '0 0 0 1 * *', '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *', '@midnight': '0 0 0 * * *', '@hourly': '0 0 * * * *',
};
const BOUNDS: Array<[number, number, Record<string, number>?]> = [
  [0, 59], [0, 59], [0, 23], [1, 31],
  [1, 12, { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 }],
  [0, 6, { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 }],
];

/** Throws an Error saying what is wrong. */
export function parseJobCron(spec: string): JobCron {
  let text = spec.trim();
  if (text.startsWith('@every ')) {
    const d = parseGoDuration(text.slice(7).trim());
    if (d === undefined || d <= 0) throw new Error(`failed to parse duration ${text}`);
    return { next: (from) => from + d };
  }
  if (text.startsWith('@')) {
    const e = DESCRIPTORS[text.toLowerCase()];
    if (!e) throw new Error(`unrecognized descriptor: ${text}`);
    text = e;
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 6) throw new Error(`expected exactly 6 fields, found ${parts.length}: ${text}`);
  const sets = parts.map((p, i) => field(p, BOUNDS[i]!));
  const [sec, min, hour, dom, mon, dow] = sets as [Field, Field, Field, Field, Field, Field];
  return {
    next(from) {
      let t = Math.floor(from / 1000) * 1000 + 1000;
      const limit = t + 5 * 366 * 86_400_000;
      while (t < limit) {
        const d = new Date(t);
        const dayOk = dom.star || dow.star ? dom.has.has(d.getUTCDate()) && dow.has.has(d.getUTCDay()) : dom.has.has(d.getUTCDate()) || dow.has.has(d.getUTCDay());
        if (!mon.has.has(d.getUTCMonth() + 1) || !dayOk) {
          t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
        } else if (!hour.has.has(d.getUTCHours())) {
          t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1);
        } else if (!min.has.has(d.getUTCMinutes())) {
          t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes() + 1);
        } else if (!sec.has.has(d.getUTCSeconds())) {
          t += 1000;
        } else {
          return t;
        }
      }
      return Number.POSITIVE_INFINITY;
    },
  };
}

interface Field {
  has: Set<number>;
  star: boolean;
}

function field(expr: string, [lo, hi, names]: [number, number, Record<string, number>?]): Field {
  const has = new Set<number>();
  let star = false;
  const num = (s: string): number => {
    const n = names?.[s.toLowerCase()] ?? (/^\d+$/.test(s) ? Number(s) : NaN);
    if (Number.isNaN(n) || n < lo || n > hi) throw new Error(`value ${s} out of range [${lo}, ${hi}] in ${expr}`);
    return n;
  };
  for (const part of expr.split(',')) {
    const [range, stepText, extra] = part.split('/');
    if (extra !== undefined || range === undefined || range === '') throw new Error(`invalid cron field ${expr}`);
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step <= 0) throw new Error(`invalid step in ${expr}`);
    let a: number;
    let b: number;
    if (range === '*' || range === '?') {
      [a, b] = [lo, hi];
      if (step === 1) star = true;
    } else {
      const [x, y, more] = range.split('-');
      if (more !== undefined) throw new Error(`invalid range in ${expr}`);
      a = num(x!);
      b = y !== undefined ? num(y) : stepText !== undefined ? hi : a;
      if (a > b) throw new Error(`invalid range in ${expr}`);
    }
    for (let v = a; v <= b; v += step) has.add(v);
  }
  return { has, star };
}
