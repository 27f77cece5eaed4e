// The breaker trip expressions: Dapr's CEL subset, with "error means do not trip".
import { describe, expect, it } from 'vitest';
import { ExpressionError, TripExpression } from '../../policies/expression.js';

const counts = { requests: 10, totalSuccesses: 4, totalFailures: 6, consecutiveSuccesses: 0, consecutiveFailures: 3 };

describe('trip expressions', () => {
  it('evaluates comparisons over the breaker counts', () => {
    expect(TripExpression.compile('consecutiveFailures > 2').holds(counts)).toBe(true);
    expect(TripExpression.compile('consecutiveFailures > 3').holds(counts)).toBe(false);
    expect(TripExpression.compile('consecutiveFailures >= 3').holds(counts)).toBe(true);
    expect(TripExpression.compile('totalFailures == 6 && requests != 9').holds(counts)).toBe(true);
  });

  it('supports ratios with explicit double conversion, arithmetic and precedence', () => {
    expect(TripExpression.compile('requests >= 10 && double(totalFailures) / double(requests) > 0.5').holds(counts)).toBe(true);
    expect(TripExpression.compile('requests >= 10 && double(totalFailures) / double(requests) > 0.6').holds(counts)).toBe(false);
    expect(TripExpression.compile('totalFailures * 2 > requests + 1').holds(counts)).toBe(true);
    expect(TripExpression.compile('(totalFailures - totalSuccesses) % 2 == 0').holds(counts)).toBe(true);
    expect(TripExpression.compile('!(consecutiveFailures < 3) || false').holds(counts)).toBe(true);
    expect(TripExpression.compile('totalFailures / 4 == 1').holds(counts)).toBe(true); // integer division truncates
    expect(TripExpression.compile('consecutiveFailures > 2 ? true : false').holds(counts)).toBe(true);
  });

  it('does not trip on evaluation errors: unknown names, division by zero, mixed types, non-bool results', () => {
    expect(TripExpression.compile('consecutiveFailure > 2').holds(counts)).toBe(false);
    expect(TripExpression.compile('requests / 0 > 1').holds(counts)).toBe(false);
    expect(TripExpression.compile('totalFailures / requests > 0.5').holds(counts)).toBe(false);
    expect(TripExpression.compile('totalFailures + 1.5 > 2.0').holds(counts)).toBe(false);
    expect(TripExpression.compile('consecutiveFailures').holds(counts)).toBe(false);
  });

  it('treats && and || as commutative over errors, as CEL does', () => {
    expect(TripExpression.compile('missing > 1 || consecutiveFailures > 2').holds(counts)).toBe(true);
    expect(TripExpression.compile('consecutiveFailures > 2 || missing > 1').holds(counts)).toBe(true);
    expect(TripExpression.compile('missing > 1 && consecutiveFailures > 2').holds(counts)).toBe(false);
  });

  it('compares ints with doubles', () => {
    expect(TripExpression.compile('consecutiveFailures > 2.5').holds(counts)).toBe(true);
    expect(TripExpression.compile('consecutiveFailures == 3.0').holds(counts)).toBe(true);
  });

  it('rejects syntax errors at compile time with their position', () => {
    expect(() => TripExpression.compile('consecutiveFailures >')).toThrow(ExpressionError);
    expect(() => TripExpression.compile('consecutiveFailures > 5)')).toThrow(/position 24/);
    expect(() => TripExpression.compile('a $ b')).toThrow(/unexpected character/);
    expect(() => TripExpression.compile('1 < 2 < 3')).toThrow(/chained/);
    expect(() => TripExpression.compile('   ')).toThrow(/empty/);
  });
});
