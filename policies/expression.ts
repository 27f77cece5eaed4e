// The breaker `trip` expression: the small CEL subset Dapr users write over the breaker's counts
// (`consecutiveFailures > 5`, `requests >= 20 && double(totalFailures) / double(requests) > 0.5`).
// Compiled once; evaluation errors (unknown name, division by zero, wrong types, a non-boolean
// result) mean "do not trip", as in Dapr. Syntax errors are reported at load.

type Value = { t: 'int' | 'double'; v: number } | { t: 'bool'; v: boolean };
type Node =
  | { k: 'lit'; val: Value }
  | { k: 'id'; name: string }
  | { k: 'un'; op: '!' | '-'; a: Node }
  | { k: 'bin'; op: string; a: Node; b: Node }
  | { k: 'cond'; c: Node; a: Node; b: Node }
  | { k: 'call'; fn: string; args: Node[] };

export type Counts = Readonly<Record<string, number>>;

export class ExpressionError extends Error {
  override readonly name = 'ExpressionError';
}

export class TripExpression {
  private constructor(readonly source: string, private readonly root: Node) {}

  /** Parses `source`; throws ExpressionError with the position of a syntax error. */
  static compile(source: string): TripExpression {
    return new TripExpression(source, new Parser(source).parseAll());
  }

  /** True only when the expression evaluates to boolean true. */
  holds(vars: Counts): boolean {
    try {
      const r = evaluate(this.root, vars);
      return r.t === 'bool' && r.v;
    } catch {
      return false;
    }
  }
}

const TOKEN = /\s*(?:(\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)|(0x[0-9a-fA-F]+|\d+)(u|U)?|([A-Za-z_][A-Za-z0-9_]*)|(&&|\|\||==|!=|<=|>=|[-+*/%<>!(),?:]))/y;

interface Token {
  kind: 'num' | 'int' | 'id' | 'op' | 'end';
  text: string;
  pos: number;
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let pos = 0;
  for (;;) {
    while (pos < src.length && /\s/.test(src[pos]!)) pos++;
    if (pos >= src.length) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(src);
    if (!m) throw new ExpressionError(`unexpected character ${JSON.stringify(src[pos])} at position ${pos + 1}`);
    const start = pos + (m[0].length - m[0].trimStart().length);
    if (m[1] !== undefined) out.push({ kind: 'num', text: m[1], pos: start });
    else if (m[2] !== undefined) out.push({ kind: 'int', text: m[2], pos: start });
    else if (m[4] !== undefined) out.push({ kind: 'id', text: m[4], pos: start });
    else out.push({ kind: 'op', text: m[5]!, pos: start });
    pos = TOKEN.lastIndex;
  }
  out.push({ kind: 'end', text: '', pos: src.length });
  return out;
}

// Precedence, lowest first, as in CEL: ?: , ||, &&, relations, + -, * / %, unary.
class Parser {
  private readonly toks: Token[];
  private i = 0;

  constructor(private readonly src: string) {
    if (src.trim() === '') throw new ExpressionError('expression is empty');
    this.toks = tokenize(src);
  }

  parseAll(): Node {
    const n = this.conditional();
    const t = this.peek();
    if (t.kind !== 'end') throw this.error(t, `unexpected ${JSON.stringify(t.text)}`);
    return n;
  }

  private peek(): Token {
    return this.toks[this.i]!;
  }

  private eat(op: string): boolean {
    const t = this.peek();
    if (t.kind === 'op' && t.text === op) {
      this.i++;
      return true;
    }
    return false;
  }

  private error(t: Token, msg: string): ExpressionError {
    return new ExpressionError(`${msg} at position ${t.pos + 1} of ${JSON.stringify(this.src)}`);
  }

  private conditional(): Node {
    const c = this.binary(0);
    if (!this.eat('?')) return c;
    const a = this.conditional();
    if (!this.eat(':')) throw this.error(this.peek(), 'expected ":"');
    const b = this.conditional();
    return { k: 'cond', c, a, b };
  }

  private static readonly LEVELS: readonly (readonly string[])[] = [
    ['||'], ['&&'], ['==', '!=', '<', '<=', '>', '>='], ['+', '-'], ['*', '/', '%'],
  ];

  private binary(level: number): Node {
    if (level >= Parser.LEVELS.length) return this.unary();
    let left = this.binary(level + 1);
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op' || !Parser.LEVELS[level]!.includes(t.text)) return left;
      this.i++;
      // CEL relations do not chain (`a < b < c` is a type error); reject it at load.
      const right = this.binary(level + 1);
      left = { k: 'bin', op: t.text, a: left, b: right };
      if (level === 2 && this.peek().kind === 'op' && Parser.LEVELS[2]!.includes(this.peek().text)) {
        throw this.error(this.peek(), 'comparisons cannot be chained');
      }
    }
  }

  private unary(): Node {
    if (this.eat('!')) return { k: 'un', op: '!', a: this.unary() };
    if (this.eat('-')) return { k: 'un', op: '-', a: this.unary() };
    return this.primary();
  }

  private primary(): Node {
    const t = this.peek();
    if (t.kind === 'num') {
      this.i++;
      return { k: 'lit', val: { t: 'double', v: Number(t.text) } };
    }
    if (t.kind === 'int') {
      this.i++;
      return { k: 'lit', val: { t: 'int', v: Number(t.text) } };
    }
    if (t.kind === 'id') {
      this.i++;
      if (t.text === 'true' || t.text === 'false') return { k: 'lit', val: { t: 'bool', v: t.text === 'true' } };
      if (this.eat('(')) {
        const args: Node[] = [];
        if (!this.eat(')')) {
          do args.push(this.conditional());
          while (this.eat(','));
          if (!this.eat(')')) throw this.error(this.peek(), 'expected ")"');
        }
        return { k: 'call', fn: t.text, args };
      }
      return { k: 'id', name: t.text };
    }
    if (this.eat('(')) {
      const n = this.conditional();
      if (!this.eat(')')) throw this.error(this.peek(), 'expected ")"');
      return n;
    }
    throw this.error(t, t.kind === 'end' ? 'unexpected end of expression' : `unexpected ${JSON.stringify(t.text)}`);
  }
}

function fail(msg: string): never {
  throw new ExpressionError(msg);
}

function num(x: Value): number {
  return x.t === 'bool' ? fail('expected a number') : x.v;
}

function evaluate(n: Node, vars: Counts): Value {
  switch (n.k) {
    case 'lit':
      return n.val;
    case 'id': {
      const v = vars[n.name];
      return v === undefined ? fail(`no such attribute ${n.name}`) : { t: 'int', v };
    }
    case 'un': {
      const a = evaluate(n.a, vars);
      if (n.op === '!') return a.t === 'bool' ? { t: 'bool', v: !a.v } : fail('! needs a bool');
      return a.t === 'bool' ? fail('- needs a number') : { t: a.t, v: -a.v };
    }
    case 'cond': {
      const c = evaluate(n.c, vars);
      if (c.t !== 'bool') fail('condition must be a bool');
      return evaluate(c.v ? n.a : n.b, vars);
    }
    case 'call':
      return call(n.fn, n.args.map((a) => evaluate(a, vars)));
    case 'bin':
      return binary(n.op, n.a, n.b, vars);
  }
}

function call(fn: string, args: Value[]): Value {
  if (args.length !== 1) fail(`${fn} takes one argument`);
  const a = args[0]!;
  if (fn === 'double') return { t: 'double', v: num(a) };
  if (fn === 'int') {
    const v = Math.trunc(num(a));
    return Number.isFinite(v) ? { t: 'int', v } : fail('int overflow');
  }
  return fail(`unknown function ${fn}`);
}

function binary(op: string, an: Node, bn: Node, vars: Counts): Value {
  if (op === '&&' || op === '||') {
    // CEL's logical operators are commutative over errors: false && error is false.
    const short = op === '||';
    let errA: unknown;
    let a: Value | undefined;
    try {
      a = evaluate(an, vars);
    } catch (err) {
      errA = err;
    }
    if (a && a.t === 'bool' && a.v === short) return a;
    const b = evaluate(bn, vars);
    if (b.t === 'bool' && b.v === short) return b;
    if (errA) throw errA;
    if (a?.t !== 'bool' || b.t !== 'bool') fail(`${op} needs bools`);
    return { t: 'bool', v: short ? a.v || b.v : a.v && b.v };
  }
  const a = evaluate(an, vars);
  const b = evaluate(bn, vars);
  if (op === '==' || op === '!=') {
    const eq = a.t === 'bool' || b.t === 'bool' ? a.t === b.t && a.v === b.v : a.v === b.v;
    return { t: 'bool', v: op === '==' ? eq : !eq };
  }
  const x = num(a);
  const y = num(b);
  switch (op) {
    case '<': return { t: 'bool', v: x < y };
    case '<=': return { t: 'bool', v: x <= y };
    case '>': return { t: 'bool', v: x > y };
    case '>=': return { t: 'bool', v: x >= y };
  }
  // Arithmetic needs both sides of one type, as CEL has no implicit int/double conversion.
  if (a.t !== b.t) fail(`no such overload: ${a.t} ${op} ${b.t}`);
  const isInt = a.t === 'int';
  switch (op) {
    case '+': return { t: a.t, v: x + y } as Value;
    case '-': return { t: a.t, v: x - y } as Value;
    case '*': return { t: a.t, v: x * y } as Value;
    case '/':
      if (isInt) return y === 0 ? fail('division by zero') : { t: 'int', v: Math.trunc(x / y) };
      return { t: 'double', v: x / y };
    case '%':
      if (!isInt) fail('no such overload: double % double');
      return y === 0 ? fail('modulus by zero') : { t: 'int', v: x % y };
  }
  return fail(`unknown operator ${op}`);
}
