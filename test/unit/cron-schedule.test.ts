// The cron binding's schedule parser: Dapr's formats (six fields with seconds, five without,
// descriptors, @every, TZ=) and the next firing computed from a fixed instant.
import { describe, expect, it } from 'vitest';
import { goUtcString, parseSchedule } from '../../core/cron.js';

const utc = (s: string): number => Date.parse(s);
const iso = (t: number): string => new Date(t).toISOString();

/** The next `n` firings after `from`, in UTC, for a schedule in the UTC zone. */
function firings(spec: string, from: string, n = 3): string[] {
  const s = parseSchedule(`TZ=UTC ${spec}`);
  const out: string[] = [];
  let t = utc(from);
  for (let i = 0; i < n; i++) {
    t = s.next(t);
    out.push(iso(t));
  }
  return out;
}

describe('cron schedules', () => {
  it('reads six fields with seconds', () => {
    expect(firings('*/15 * * * * *', '2026-01-01T00:00:07Z')).toEqual(['2026-01-01T00:00:15.000Z', '2026-01-01T00:00:30.000Z', '2026-01-01T00:00:45.000Z']);
    expect(firings('30 5 10 * * *', '2026-01-01T12:00:00Z', 2)).toEqual(['2026-01-02T10:05:30.000Z', '2026-01-03T10:05:30.000Z']);
  });

  it('reads five fields as minute-level with second 0', () => {
    expect(firings('0 */6 * * *', '2026-03-01T07:00:00Z', 2)).toEqual(['2026-03-01T12:00:00.000Z', '2026-03-01T18:00:00.000Z']);
  });

  it('expands the descriptors', () => {
    expect(firings('@hourly', '2026-01-01T00:30:00Z', 1)).toEqual(['2026-01-01T01:00:00.000Z']);
    expect(firings('@daily', '2026-01-01T00:30:00Z', 1)).toEqual(['2026-01-02T00:00:00.000Z']);
    expect(firings('@midnight', '2026-01-01T00:30:00Z', 1)).toEqual(['2026-01-02T00:00:00.000Z']);
    expect(firings('@weekly', '2026-01-01T00:30:00Z', 1)).toEqual(['2026-01-04T00:00:00.000Z']); // a Sunday
    expect(firings('@monthly', '2026-01-15T00:00:00Z', 1)).toEqual(['2026-02-01T00:00:00.000Z']);
    expect(firings('@yearly', '2026-01-15T00:00:00Z', 1)).toEqual(['2027-01-01T00:00:00.000Z']);
    expect(firings('@annually', '2026-01-15T00:00:00Z', 1)).toEqual(['2027-01-01T00:00:00.000Z']);
  });

  it('counts @every from the previous firing in whole seconds', () => {
    const s = parseSchedule('@every 1m30s');
    expect(s.next(utc('2026-01-01T00:00:00.250Z'))).toBe(utc('2026-01-01T00:01:30Z'));
    expect(parseSchedule('@every 100ms').next(utc('2026-01-01T00:00:00Z'))).toBe(utc('2026-01-01T00:00:01Z'));
    expect(s.zone).toBe('Local');
  });

  it('knows month and weekday names, ranges, lists and a/n steps', () => {
    expect(firings('0 0 12 * JAN-MAR MON,fri', '2026-03-26T00:00:00Z', 3)).toEqual(['2026-03-27T12:00:00.000Z', '2026-03-30T12:00:00.000Z', '2027-01-01T12:00:00.000Z']);
    expect(firings('0 50/5 * * * *', '2026-01-01T00:00:00Z', 3)).toEqual(['2026-01-01T00:50:00.000Z', '2026-01-01T00:55:00.000Z', '2026-01-01T01:50:00.000Z']);
  });

  it('matches day-of-month OR day-of-week when both are restricted, AND when one is *', () => {
    // 13th or a Friday
    expect(firings('0 0 0 13 * 5', '2026-02-01T00:00:00Z', 3)).toEqual(['2026-02-06T00:00:00.000Z', '2026-02-13T00:00:00.000Z', '2026-02-20T00:00:00.000Z']);
    expect(firings('0 0 0 13 * ?', '2026-02-01T00:00:00Z', 2)).toEqual(['2026-02-13T00:00:00.000Z', '2026-03-13T00:00:00.000Z']);
  });

  it('uses the zone named by TZ= or CRON_TZ=', () => {
    const s = parseSchedule('CRON_TZ=Asia/Tokyo 0 0 9 * * *');
    expect(s.zone).toBe('Asia/Tokyo');
    expect(iso(s.next(utc('2026-06-01T01:00:00Z')))).toBe('2026-06-02T00:00:00.000Z');
    const ny = parseSchedule('TZ=America/New_York 0 30 2 * * *');
    // 2026-03-08 has no 02:30 in New York (spring forward): the next one is the day after.
    expect(iso(ny.next(utc('2026-03-08T05:00:00Z')))).toBe('2026-03-09T06:30:00.000Z');
  });

  it('refuses what Dapr refuses', () => {
    for (const bad of ['', '* * * *', '* * * * * * *', '61 * * * * *', '* * 24 * * *', '* * * 0 * *', '* * * * 13 *', '@sometimes', '@every', '@every x', 'TZ=Mars/Base * * * * *', '*/0 * * * * *', '5-1 * * * * *', 'x * * * * *']) {
      expect(() => parseSchedule(bad), bad).toThrow();
    }
  });

  it('formats the tick time as Go prints a UTC time', () => {
    expect(goUtcString(utc('2026-01-02T03:04:05.120Z'))).toBe('2026-01-02 03:04:05.12 +0000 UTC');
    expect(goUtcString(utc('2026-01-02T03:04:05Z'))).toBe('2026-01-02 03:04:05 +0000 UTC');
  });
});
