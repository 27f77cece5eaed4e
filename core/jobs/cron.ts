// Job schedules as Dapr's scheduler reads them: six cron fields with seconds first
// (`sec min hour dom month dow`), `@every <go duration>` and the descriptors, evaluated in UTC.
import { parseSchedule, type Schedule } from '../cron.js';

export type JobCron = Pick<Schedule, 'next'>;

/** Throws an Error saying what is wrong. */
export function parseJobCron(spec: string): JobCron {
  return parseSchedule(spec, { requireSeconds: true, zone: 'UTC' });
}
