import { describe, expect, it } from 'vitest';
import { createOpenAiConversation } from '../../components/conversation/openai.js';
import { scrubPii } from '../../core/conversation/pii.js';
import { parseJobCron } from '../../core/jobs/cron.js';
import { JobErrors, nextTrigger, parseJob, retryDelay, type StoredJob } from '../../core/jobs/job.js';

const T = Date.UTC(2026, 0, 15, 10, 20, 30); // Thursday
const errors = new JobErrors({ appID: 'a', namespace: '' });

describe('job schedules (six fields, UTC)', () => {
  it('computes the next firing for cron fields, descriptors and @every', () => {
    expect(new Date(parseJobCron('*/15 * * * * *').next(T)).toISOString()).toBe('2026-01-15T10:20:45.000Z');
    expect(new Date(parseJobCron('0 0 9 * * mon-fri').next(T)).toISOString()).toBe('2026-01-16T09:00:00.000Z');
    expect(new Date(parseJobCron('0 30 8 1 jan,feb *').next(T)).toISOString()).toBe('2026-02-01T08:30:00.000Z');
    expect(new Date(parseJobCron('@daily').next(T)).toISOString()).toBe('2026-01-16T00:00:00.000Z');
    expect(new Date(parseJobCron('@hourly').next(T)).toISOString()).toBe('2026-01-15T11:00:00.000Z');
    expect(parseJobCron('@every 1m30s').next(T)).toBe(T + 90_000);
  });

  it('refuses five-field cron, bad values and unknown descriptors', () => {
    expect(() => parseJobCron('* * * * *')).toThrow(/exactly 6 fields/);
    expect(() => parseJobCron('61 * * * * *')).toThrow(/out of range/);
    expect(() => parseJobCron('@fortnightly')).toThrow(/unrecognized descriptor/);
    expect(() => parseJobCron('@every soon')).toThrow(/duration/);
  });

  it('counts repeats, stops a one-shot, honours ttl, and applies failure policies', () => {
    const job = (spec: object, extra: Partial<StoredJob> = {}): StoredJob => ({ spec: parseJob('j', spec, errors), createdAt: T, nextAt: T, count: 1, attempt: 0, ...extra });
    expect(nextTrigger(job({ schedule: '@every 1s', repeats: 2 }), T)).toBe(T + 1000);
    expect(nextTrigger(job({ schedule: '@every 1s', repeats: 2 }, { count: 2 }), T)).toBeUndefined();
    expect(nextTrigger(job({ dueTime: '1s' }), T)).toBeUndefined();
    expect(nextTrigger(job({ schedule: '@every 1s' }, { expiresAt: T + 500 }), T)).toBeUndefined();
    expect(retryDelay(job({ dueTime: '1s' }))).toBe(1000);
    expect(retryDelay(job({ dueTime: '1s' }, { attempt: 3 }))).toBeUndefined();
    expect(retryDelay(job({ dueTime: '1s', failurePolicy: { drop: {} } }))).toBeUndefined();
    expect(retryDelay(job({ dueTime: '1s', failure_policy: { constant: { interval: '250ms' } } }, { attempt: 99 }))).toBe(250);
  });
});

describe('PII scrubbing', () => {
  it('tags e-mail, phone, card (Luhn), IPv4/IPv6, SSN and URL, and leaves other numbers', () => {
    expect(scrubPii('write to a.b@example.org or call +44 20 7946 0958')).toBe('write to <EMAIL_ADDRESS> or call <PHONE_NUMBER>');
    expect(scrubPii('card 5500-0000-0000-0004, not 1234 5678 9012 3456')).toBe('card <CREDIT_CARD>, not 1234 5678 9012 3456');
    expect(scrubPii('from 8.8.8.8 and fe80::1ff:fe23:4567:890a')).toBe('from <IP> and <IP>');
    expect(scrubPii('ssn 078-05-1120 at https://example.com/x')).toBe('ssn <SSN> at <URL>');
    expect(scrubPii('order 1234567890123, 3 items, 12:30, v1.2.3')).toBe('order 1234567890123, 3 items, 12:30, v1.2.3');
  });
});

describe('conversation.openai apiType azure', () => {
  const ctx = (metadata: Record<string, string>) => ({ name: 'llm', type: 'conversation.openai', version: 'v1', metadata, appId: 'a', homeDir: '/nonexistent', cwd: '/', env: {}, logger: { debug() {}, info() {}, warn() {}, error() {} } as never });

  it('needs endpoint and apiVersion, as Dapr documents', async () => {
    await expect(createOpenAiConversation(ctx({ key: 'k', apiType: 'azure', apiVersion: '2025-01-01-preview' }))).rejects.toThrow(/"endpoint" is required when apiType is azure/);
    await expect(createOpenAiConversation(ctx({ key: 'k', apiType: 'azure', endpoint: 'https://r.openai.azure.com/' }))).rejects.toThrow(/"apiVersion" is required when apiType is azure/);
    // Any other apiType is plain OpenAI, as in Dapr.
    await expect(createOpenAiConversation(ctx({ key: 'k', apiType: 'openai' }))).resolves.toBeDefined();
  });
});
