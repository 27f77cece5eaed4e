// Pure pieces of the bindings, configuration and lock blocks: Dapr's lock key scheme, the
// `direction` metadata, localstorage's create decoding, and the Redis configuration layout.
import { describe, expect, it } from 'vitest';
import { bindingFeatures, parseDirection } from '../../core/bindings/component.js';
import { lockKey, lockKeyStrategy } from '../../core/lock/keys.js';
import { decodeCreateData } from '../../components/bindings/localstorage.js';
import { goQueryEscape } from '../../components/bindings/rabbitmq.js';
import { parseRedisItem } from '../../components/configuration/redis.js';

describe('lock keys', () => {
  it('prefixes as Dapr does for each keyPrefix', () => {
    expect(lockKey(lockKeyStrategy(undefined), 'store', 'app', 'r')).toBe('lock||app||r');
    expect(lockKey(lockKeyStrategy('AppID'), 'store', 'app', 'r')).toBe('lock||app||r');
    expect(lockKey(lockKeyStrategy('name'), 'store', 'app', 'r')).toBe('lock||store||r');
    expect(lockKey(lockKeyStrategy('none'), 'store', 'app', 'r')).toBe('lock||r');
    expect(lockKey(lockKeyStrategy('team-a'), 'store', 'app', 'r')).toBe('lock||team-a||r');
    expect(() => lockKey(lockKeyStrategy(undefined), 'store', 'app', 'a||b')).toThrow(/can't contain/);
    expect(() => lockKeyStrategy('x||y')).toThrow();
  });
});

describe('binding direction', () => {
  it('reads input, output or both, and absent means both', () => {
    expect(parseDirection(undefined)).toBeUndefined();
    expect(parseDirection(' Input , output ')).toEqual({ input: true, output: true });
    expect(parseDirection('output')).toEqual({ input: false, output: true });
    expect(bindingFeatures(undefined, { input: true, output: true })).toEqual(['INPUT_BINDING', 'OUTPUT_BINDING']);
    expect(bindingFeatures('input', { input: true, output: true })).toEqual(['INPUT_BINDING']);
    expect(bindingFeatures('input', { input: false, output: true })).toEqual([]);
  });
});

describe('localstorage create data', () => {
  it('unquotes JSON strings, then decodes valid base64, and keeps anything else', () => {
    expect(decodeCreateData(Buffer.from('"aGk="')).toString()).toBe('hi');
    expect(decodeCreateData(Buffer.from('"plain text"')).toString()).toBe('plain text');
    expect(decodeCreateData(Buffer.from('{"a":1}')).toString()).toBe('{"a":1}');
    expect(decodeCreateData(Buffer.from('"abcd"')).toString('hex')).toBe('69b71d'); // "abcd" is valid base64: decoded, as Dapr does
    expect(decodeCreateData(Buffer.from('"aGk=\\n"')).toString()).toBe('hi');
  });
});

describe('Redis configuration items and RabbitMQ header escaping', () => {
  it('splits value||version', () => {
    expect(parseRedisItem('101||1')).toEqual({ value: '101', version: '1' });
    expect(parseRedisItem('plain')).toEqual({ value: 'plain', version: '' });
    expect(parseRedisItem('a||b||c')).toEqual({ value: 'a', version: 'b' });
  });

  it('escapes like Go url.QueryEscape', () => {
    expect(goQueryEscape("a b&c=d/e!'()*~._-")).toBe('a+b%26c%3Dd%2Fe%21%27%28%29%2A~._-');
  });
});
