// Output binding data is re-serialized as Go's encoding/json writes a decoded value.
import { describe, expect, it } from 'vitest';
import { goJsonMarshal } from '../../core/bindings/go-json.js';

describe('goJsonMarshal', () => {
  it('writes scalars as Go does', () => {
    expect(goJsonMarshal(undefined)).toBe('null');
    expect(goJsonMarshal(null)).toBe('null');
    expect(goJsonMarshal('Hi')).toBe('"Hi"');
    expect(goJsonMarshal(true)).toBe('true');
    expect(goJsonMarshal(1)).toBe('1');
    expect(goJsonMarshal(2.5)).toBe('2.5');
    expect(goJsonMarshal(1e21)).toBe('1e+21');
    expect(goJsonMarshal(1e-7)).toBe('1e-07');
    expect(goJsonMarshal(123456789012)).toBe('123456789012');
  });

  it('sorts object keys and escapes HTML characters and line separators', () => {
    expect(goJsonMarshal({ b: 1, a: { d: [1, 'x'], c: null } })).toBe('{"a":{"c":null,"d":[1,"x"]},"b":1}');
    expect(goJsonMarshal('<a href="x">&</a>')).toBe('"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"');
    expect(goJsonMarshal('a\u2028b\u2029')).toBe('"a\\u2028b\\u2029"');
    expect(goJsonMarshal({ 'é': 1, z: 2 })).toBe('{"z":2,"é":1}');
  });
});
