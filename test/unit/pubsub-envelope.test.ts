import { describe, expect, it } from 'vitest';
import { binaryModeEvent, buildEnvelope, isExpired, type EnvelopeInput } from '../../core/pubsub/cloudevent.js';
import { isTopicAllowed, readScopes } from '../../core/pubsub/scopes.js';
import { decodeBulkEntries, parseRawPayload } from '../../core/pubsub/service.js';

const trace = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'k=v' };
const now = new Date('2026-01-02T03:04:05.678Z');

function envelope(over: Partial<EnvelopeInput>): Record<string, unknown> {
  const input: EnvelopeInput = { appId: 'pub', pubsubName: 'ps', topic: 't', body: Buffer.from(''), contentType: undefined, trace, metadata: {}, brokerHasTtl: false, now, ...over };
  return JSON.parse(buildEnvelope(input).toString()) as Record<string, unknown>;
}

describe('CloudEvent envelope', () => {
  it('wraps JSON as data, keeping large numbers exact on the wire', () => {
    const body = Buffer.from('{"n": 12345678901234567890}');
    const wire = buildEnvelope({ appId: 'pub', pubsubName: 'ps', topic: 't', body, contentType: 'application/json; charset=utf-8', trace, metadata: {}, brokerHasTtl: false, now }).toString();
    expect(wire).toContain('"data":{"n": 12345678901234567890}');
    expect(JSON.parse(wire)).toMatchObject({
      source: 'pub', type: 'com.dapr.event.sent', specversion: '1.0', datacontenttype: 'application/json; charset=utf-8',
      topic: 't', pubsubname: 'ps', traceid: trace.traceparent, traceparent: trace.traceparent, tracestate: 'k=v', time: '2026-01-02T03:04:05Z',
    });
  });

  it('embeds text, +json and invalid JSON as strings, and octet-stream as data_base64', () => {
    expect(envelope({ body: Buffer.from('hi') }).data).toBe('hi');
    expect(envelope({ body: Buffer.from('hi') }).datacontenttype).toBe('text/plain');
    expect(envelope({ body: Buffer.from('{"a":1}'), contentType: 'application/vnd.x+json' }).data).toBe('{"a":1}');
    expect(envelope({ body: Buffer.from('{nope'), contentType: 'application/json' }).data).toBe('{nope');
    const bin = envelope({ body: Buffer.from([1, 2, 3]), contentType: 'application/octet-stream' });
    expect(bin.data_base64).toBe('AQID');
    expect(bin).not.toHaveProperty('data');
  });

  it('applies cloudevent.* overrides and writes expiration for ttlInSeconds unless the broker has TTL', () => {
    const e = envelope({ metadata: { 'cloudevent.id': 'x', 'CloudEvent.Source': 's', 'cloudevent.type': 'ty', 'cloudevent.subject': 'sub', ttlInSeconds: '60' } });
    expect(e).toMatchObject({ id: 'x', source: 's', type: 'ty', subject: 'sub', expiration: '2026-01-02T03:05:05Z' });
    expect(envelope({ metadata: { ttlInSeconds: '60' }, brokerHasTtl: true })).not.toHaveProperty('expiration');
    expect(() => envelope({ metadata: { ttlInSeconds: 'soon' } })).toThrow(/ttlInSeconds/);
  });

  it('keeps an app-supplied CloudEvent, overwriting only trace, topic and pubsub name', () => {
    const body = Buffer.from(JSON.stringify({ id: 'mine', source: 'me', data: 1, topic: 'old', traceparent: 'old' }));
    const e = envelope({ body, contentType: 'application/cloudevents+json' });
    expect(e).toMatchObject({ id: 'mine', source: 'me', data: 1, topic: 't', pubsubname: 'ps', traceparent: trace.traceparent, type: 'com.dapr.event.sent', specversion: '1.0' });
    expect(e).not.toHaveProperty('datacontenttype');
    expect(() => envelope({ body: Buffer.from('nope'), contentType: 'application/cloudevents+json' })).toThrow(expect.objectContaining({ code: 'ERR_PUBSUB_CLOUD_EVENTS_SER', status: 500 }));
  });

  it('tells expired events apart', () => {
    expect(isExpired({ expiration: '2020-01-01T00:00:00Z' })).toBe(true);
    expect(isExpired({ expiration: '2999-01-01T00:00:00Z' })).toBe(false);
    expect(isExpired({})).toBe(false);
  });
});

describe('publish inputs', () => {
  it('parses rawPayload like Go ParseBool and refuses other values with ERR_PUBSUB_REQUEST_METADATA', () => {
    expect(parseRawPayload({ rawPayload: 'True' })).toBe(true);
    expect(parseRawPayload({ rawpayload: '0' })).toBe(false);
    expect(() => parseRawPayload({ rawPayload: 'yes' })).toThrow(expect.objectContaining({ code: 'ERR_PUBSUB_REQUEST_METADATA', status: 400 }));
  });

  it('checks bulk entries: ids present and unique (entryID accepted), content type matching the event', () => {
    expect(decodeBulkEntries([{ entryID: '1', event: 'x', contentType: 'text/plain' }, { entryId: '2', event: { a: 1 }, contentType: 'application/json' }])).toHaveLength(2);
    const bad = [
      [{ event: 'x', contentType: 'text/plain' }],
      [{ entryId: '1', event: 'x', contentType: 'text/plain' }, { entryId: '1', event: 'y', contentType: 'text/plain' }],
      [{ entryId: '1', event: { a: 1 }, contentType: 'text/plain' }],
      [{ entryId: '1', event: 'x', contentType: '' }],
      [{ entryId: '1', event: '!!notbase64', contentType: 'application/octet-stream' }],
    ];
    for (const b of bad) expect(() => decodeBulkEntries(b)).toThrow(expect.objectContaining({ code: 'ERR_PUBSUB_EVENTS_SER', status: 400 }));
    expect(() => decodeBulkEntries({})).toThrow(expect.objectContaining({ code: 'ERR_PUBSUB_EVENTS_SER' }));
  });
});

describe('topic scopes', () => {
  it('follows Dapr: allowedTopics first, then per-app scopes, protected topics only for listed apps', () => {
    const md = { publishingScopes: 'app1=a,b; app2=', subscriptionScopes: 'app1=a', allowedTopics: 'a,b,c,p', protectedTopics: 'p' };
    const app1 = readScopes(md, 'app1');
    const app3 = readScopes(md, 'app3');
    expect(isTopicAllowed(app1, 'publish', 'a')).toBe(true);
    expect(isTopicAllowed(app1, 'publish', 'c')).toBe(false);
    expect(isTopicAllowed(app1, 'subscribe', 'b')).toBe(false);
    expect(isTopicAllowed(app3, 'publish', 'c')).toBe(true);
    expect(isTopicAllowed(app3, 'publish', 'p')).toBe(false);
    expect(isTopicAllowed(app3, 'publish', 'zzz')).toBe(false);
    expect(isTopicAllowed(readScopes({}, 'x'), 'subscribe', 'anything')).toBe(true);
  });
});

describe('binary-mode CloudEvents (delivery)', () => {
  it('builds the event from ce_* metadata (prefix cut and lower-cased), the bytes and the content type', () => {
    const data = Buffer.from([0, 1, 2]);
    const e = binaryModeEvent(data, 'application/octet-stream', { CE_Type: 'order.created', ce_id: '7', ce_expiration: '2000-01-01T00:00:00Z', other: 'x', ce_: 'empty name' });
    expect(e).toEqual({ type: 'order.created', id: '7', expiration: '2000-01-01T00:00:00Z', data, datacontenttype: 'application/octet-stream' });
    expect(isExpired(e)).toBe(true);
  });

  it('writes the same second-precision time for events of one second and a new one after it', () => {
    const at = (iso: string): unknown => envelope({ now: new Date(iso) }).time;
    expect(at('2026-01-02T03:04:05.100Z')).toBe('2026-01-02T03:04:05Z');
    expect(at('2026-01-02T03:04:05.900Z')).toBe('2026-01-02T03:04:05Z');
    expect(at('2026-01-02T03:04:06.000Z')).toBe('2026-01-02T03:04:06Z');
  });
});
