import { describe, expect, it } from 'vitest';
import { CelError, compileCel } from '../../core/pubsub/cel.js';
import { fromAppAnswer, fromResource, findRoute, type SubscriptionError } from '../../core/pubsub/subscriptions.js';
import { ResourceError } from '../../resources/resource-error.js';
import type { SubscriptionResource } from '../../resources/types.js';

const event = {
  id: 'e1',
  type: 'order.created',
  source: 'checkout',
  topic: 'orders',
  data: { amount: 12000, customer: { tier: 'gold' }, tags: ['a', 'b'], name: 'order-42', flag: true },
};

const check = (expr: string): unknown => compileCel(expr).evaluate({ event });

describe('CEL subset for routing rules', () => {
  it.each([
    ['event.type == "order.created"', true],
    ["event.type != 'order.created'", false],
    ['event.data.amount > 10000', true],
    ['event.data.amount > 10000.0 && event.data.amount <= 12000', true],
    ['int(event.data.amount) == 12000', true],
    ['event.data.customer.tier in ["gold", "platinum"]', true],
    ['"a" in event.data.tags && !("z" in event.data.tags)', true],
    ['"customer" in event.data', true],
    ['has(event.data.customer) && !has(event.data.missing)', true],
    ['has(event.data.missing) && event.data.missing.x == 1', false],
    ['event.data.name.startsWith("order-") && event.data.name.endsWith("42")', true],
    ['event.data.name.contains("der") && event.data.name.matches("^order-[0-9]+$")', true],
    ['size(event.data.tags) == 2 && event.data.name.size() == 8', true],
    ['event.data.flag || event.data.nope == 1', true],
    ['event.data.nope == 1 || event.data.flag', true],
    ['event.data.tags[1] == "b" && event.data["name"] == "order-42"', true],
    ['event.data.amount / 2.0 == 6000.0 && 7 / 2 == 3 && 7 % 2 == 1', true],
    ['event.source + "/" + event.topic == "checkout/orders"', true],
    ['event.data.flag ? event.id == "e1" : false', true],
    ['string(event.data.amount) == "12000"', true],
    ['double("1.5") == 1.5 && bool("true")', true],
  ])('%s is %s', (expr, want) => {
    expect(check(expr)).toBe(want);
  });

  it('fails evaluation on a missing key, as CEL does', () => {
    expect(() => check('event.data.missing == 1')).toThrow(CelError);
    expect(() => compileCel('event.data.amount').matches({ event })).toThrow(/boolean/);
  });

  it.each([
    ['event.data.tags.all(t, t == "a")', /macro all\(\) is not supported/],
    ['event.data.tags.exists(t, t == "a")', /macro exists\(\) is not supported/],
    ['timestamp(event.time) > timestamp("2020-01-01T00:00:00Z")', /unsupported function timestamp\(\)/],
    ['event.type.lowerAscii() == "x"', /unsupported function lowerAscii\(\)/],
    ['event.type ==', /unexpected end of expression/],
    ['event.type == "x', /unterminated string/],
    ['event.type = "x"', /unexpected character|unexpected/],
    ['has(event)', /has\(\) takes one field selection/],
  ])('refuses %s at compile time', (expr, why) => {
    expect(() => compileCel(expr)).toThrow(why);
  });
});

describe('subscriptions', () => {
  const resource = (match: string): SubscriptionResource => ({
    kind: 'Subscription',
    apiVersion: 'dapr.io/v2alpha1',
    name: 'order-sub',
    pubsubname: 'pubsub',
    topic: 'orders',
    rules: [{ match, path: 'created' }],
    defaultPath: '/orders',
    metadata: {},
    scopes: [],
    origin: { file: 'subs.yaml', doc: 2 },
  });

  it('compiles a declarative subscription: rules first, then the default path', () => {
    const s = fromResource(resource('event.type == "order.created"'));
    expect(s.rules.map((r) => r.path)).toEqual(['/created', '/orders']);
    expect(findRoute(s.rules, event)).toBe('/created');
    expect(findRoute(s.rules, { ...event, type: 'other' })).toBe('/orders');
  });

  it('refuses an unsupported rule at load, naming the file, field and subscription', () => {
    let err: unknown;
    try {
      fromResource(resource('event.data.tags.all(t, t == "a")'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ResourceError);
    expect((err as Error).message).toMatch(/subs\.yaml, document 2, field spec\.routes\.rules\[0\]\.match: subscription order-sub: rule 0/);
  });

  it('reads v1 and v2 app answers, keys in any case, and skips unusable items with a named error', () => {
    const errors: SubscriptionError[] = [];
    const subs = fromAppAnswer(
      [
        { pubsubname: 'pubsub', topic: 'a', route: 'a-path', metadata: { rawPayload: 'true' } },
        { PubsubName: 'pubsub', Topic: 'b', Routes: { Rules: [{ Match: 'event.type == "x"', Path: '/x' }], Default: '/b' }, DeadLetterTopic: 'dead', BulkSubscribe: { enabled: true } },
        { pubsubname: 'pubsub', topic: 'c' },
        { pubsubname: 'pubsub', topic: 'd', routes: { rules: [{ match: 'event.x.map(y, y)', path: '/d' }] } },
      ],
      (e) => errors.push(e),
    );
    expect(subs.map((s) => [s.topic, s.rules.map((r) => r.path)])).toEqual([
      ['a', ['/a-path']],
      ['b', ['/x', '/b']],
    ]);
    expect(subs[1]).toMatchObject({ deadLetterTopic: 'dead', bulk: { enabled: true, maxMessagesCount: 100, maxAwaitDurationMs: 1000 }, type: 'PROGRAMMATIC' });
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/subscription pubsub\/c: no route/),
      expect.stringMatching(/subscription pubsub\/d: rule 0 .* macro map\(\) is not supported/),
    ]);
  });
});
