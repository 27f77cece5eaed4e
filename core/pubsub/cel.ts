// A subset of CEL (Common Expression Language) for pub/sub routing rules, evaluated over one
// variable, `event` (the CloudEvent as a JSON map). Covered: literals, field selection and
// indexing, comparisons, arithmetic, && || ! and ?:, `in`, has(), size(), int/double/string/bool
// conversions, and the string methods startsWith, endsWith, contains, matches, size.
// Anything else (macros, timestamps, unknown functions) is refused at compile time, so a rule we
// cannot evaluate faithfully never loads. Values: int is a bigint, double a number, as in CEL.
//
// Differences from cel-go, on purpose: ordering comparisons between int and double are allowed
// (cel-go needs an explicit cast); `matches` uses JavaScript regular expressions, not RE2.

type Value = null | boolean | bigint | number | string | Value[] | { [k: string]: Value } | Uint8Array;

type Node =
  | { t: 'lit'; v: Value }
  | { t: 'ident'; name: string }
  | { t: 'select'; obj: Node; field: string }
  | { t: 'index'; obj: Node; key: Node }
  | { t: 'call'; fn: string; target?: Node; args: Node[] }
  | { t: 'has'; obj: Node; field: string }
  | { t: 'unary'; op: '!' | '-'; arg: Node }
  | { t: 'binary'; op: string; l: Node; r: Node }
  | { t: 'cond'; c: Node; a: Node; b: Node }
  | { t: 'list'; items: Node[] }
  | { t: 'map'; entries: Array<[Node, Node]> };

export class CelError extends Error {
  override readonly name = 'CelError';
}

export interface CelProgram {
  readonly source: string;
  /** Evaluates the expression; throws CelError on evaluation errors (missing key, bad types). */
  evaluate(vars: Record<string, unknown>): unknown;
  /** Evaluates and requires a boolean, as Dapr does for route rules. */
  matches(vars: Record<string, unknown>): boolean;
}

const GLOBAL_FUNCS = new Set(['size', 'int', 'uint', 'double', 'string', 'bool', 'type']);
const METHODS = new Set(['startsWith', 'endsWith', 'contains', 'matches', 'size']);
const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/** Compiles an expression; an unsupported or malformed expression throws CelError saying why. */
export function compileCel(source: string): CelProgram {
  const ast = new Parser(source).parseAll();
  const regexes = new Map<string, RegExp>();
  return {
    source,
    evaluate: (vars) => evaluate(ast, vars, regexes),
    matches(vars) {
      const v = evaluate(ast, vars, regexes);
      if (typeof v !== 'boolean') throw new CelError(`expression ${source} did not evaluate to a boolean (got ${typeName(v)})`);
      return v;
    },
  };
}

// ---- lexer ----

type Tok = { k: 'num'; v: Value } | { k: 'str'; v: string } | { k: 'id'; v: string } | { k: 'op'; v: string } | { k: 'eof' };

const OPS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '+', '-', '*', '/', '%', '?', ':', '.', ',', '(', ')', '[', ']', '{', '}'];

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^(0[xX][0-9a-fA-F]+[uU]?|(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?[uU]?)/.exec(src.slice(i))!;
      const text = m[1]!;
      i += text.length;
      if (/[uU]$/.test(text)) out.push({ k: 'num', v: BigInt(text.slice(0, -1)) });
      else if (/^0[xX]/.test(text)) out.push({ k: 'num', v: BigInt(text) });
      else if (/[.eE]/.test(text)) out.push({ k: 'num', v: Number(text) });
      else out.push({ k: 'num', v: BigInt(text) });
      continue;
    }
    if (c === '"' || c === "'" || ((c === 'r' || c === 'R') && (src[i + 1] === '"' || src[i + 1] === "'"))) {
      const raw = c === 'r' || c === 'R';
      if (raw) i++;
      const q = src[i]!;
      const triple = src.slice(i, i + 3) === q.repeat(3);
      const end = triple ? q.repeat(3) : q;
      i += end.length;
      let s = '';
      for (;;) {
        if (i >= src.length) throw new CelError(`unterminated string literal in ${src}`);
        if (src.startsWith(end, i)) {
          i += end.length;
          break;
        }
        const ch = src[i]!;
        if (!triple && ch === '\n') throw new CelError(`newline in string literal in ${src}`);
        if (ch === '\\' && !raw) {
          const e = src[i + 1];
          const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", '`': '`', '?': '?', a: '\x07', b: '\b', f: '\f', v: '\v' };
          if (e !== undefined && e in simple) {
            s += simple[e];
            i += 2;
          } else if (e === 'u' || e === 'U' || e === 'x' || e === 'X') {
            const len = e === 'u' ? 4 : e === 'U' ? 8 : 2;
            const hex = src.slice(i + 2, i + 2 + len);
            if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) throw new CelError(`bad escape \\${e}${hex} in ${src}`);
            s += String.fromCodePoint(parseInt(hex, 16));
            i += 2 + len;
          } else {
            throw new CelError(`unsupported escape \\${e ?? ''} in ${src}`);
          }
          continue;
        }
        s += ch;
        i++;
      }
      out.push({ k: 'str', v: s });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ k: 'id', v: m[0] });
      i += m[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new CelError(`unexpected character ${JSON.stringify(c)} at position ${i} in ${src}`);
    out.push({ k: 'op', v: op });
    i += op.length;
  }
  out.push({ k: 'eof' });
  return out;
}

// ---- parser (precedence climbing, CEL's grammar) ----

class Parser {
  private readonly toks: Tok[];
  private pos = 0;

  constructor(private readonly src: string) {
    this.toks = lex(src);
  }

  parseAll(): Node {
    if (this.src.trim() === '') throw new CelError('empty expression');
    const n = this.expr();
    if (this.peek().k !== 'eof') throw this.err(`unexpected ${this.show(this.peek())}`);
    return n;
  }

  private peek(): Tok {
    return this.toks[this.pos]!;
  }

  private next(): Tok {
    return this.toks[this.pos++]!;
  }

  private isOp(v: string): boolean {
    const t = this.peek();
    return t.k === 'op' && t.v === v;
  }

  private isId(v: string): boolean {
    const t = this.peek();
    return t.k === 'id' && t.v === v;
  }

  private expect(v: string): void {
    if (!this.isOp(v)) throw this.err(`expected '${v}' but found ${this.show(this.peek())}`);
    this.pos++;
  }

  private show(t: Tok): string {
    return t.k === 'eof' ? 'end of expression' : `'${String(t.v)}'`;
  }

  private err(msg: string): CelError {
    return new CelError(`${msg} in ${this.src}`);
  }

  private expr(): Node {
    const c = this.or();
    if (!this.isOp('?')) return c;
    this.pos++;
    const a = this.or();
    this.expect(':');
    const b = this.expr();
    return { t: 'cond', c, a, b };
  }

  private or(): Node {
    let l = this.and();
    while (this.isOp('||')) {
      this.pos++;
      l = { t: 'binary', op: '||', l, r: this.and() };
    }
    return l;
  }

  private and(): Node {
    let l = this.rel();
    while (this.isOp('&&')) {
      this.pos++;
      l = { t: 'binary', op: '&&', l, r: this.rel() };
    }
    return l;
  }

  private rel(): Node {
    let l = this.add();
    for (;;) {
      const t = this.peek();
      if (t.k === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.v)) {
        this.pos++;
        l = { t: 'binary', op: t.v, l, r: this.add() };
      } else if (this.isId('in')) {
        this.pos++;
        l = { t: 'binary', op: 'in', l, r: this.add() };
      } else {
        return l;
      }
    }
  }

  private add(): Node {
    let l = this.mul();
    while (this.isOp('+') || this.isOp('-')) {
      const op = (this.next() as { v: string }).v;
      l = { t: 'binary', op, l, r: this.mul() };
    }
    return l;
  }

  private mul(): Node {
    let l = this.unary();
    while (this.isOp('*') || this.isOp('/') || this.isOp('%')) {
      const op = (this.next() as { v: string }).v;
      l = { t: 'binary', op, l, r: this.unary() };
    }
    return l;
  }

  private unary(): Node {
    if (this.isOp('!')) {
      this.pos++;
      return { t: 'unary', op: '!', arg: this.unary() };
    }
    if (this.isOp('-')) {
      this.pos++;
      const arg = this.unary();
      // Fold negative literals so -9223372036854775808 stays an int.
      if (arg.t === 'lit' && (typeof arg.v === 'bigint' || typeof arg.v === 'number')) return { t: 'lit', v: -arg.v as Value };
      return { t: 'unary', op: '-', arg };
    }
    return this.member();
  }

  private member(): Node {
    let n = this.primary();
    for (;;) {
      if (this.isOp('.')) {
        this.pos++;
        const id = this.next();
        if (id.k !== 'id') throw this.err(`expected a field name after '.'`);
        if (this.isOp('(')) {
          if (MACROS.has(id.v)) throw this.err(`the macro ${id.v}() is not supported in bulwark's routing rules`);
          if (!METHODS.has(id.v)) throw this.err(`unsupported function ${id.v}() (supported methods: ${[...METHODS].join(', ')})`);
          n = { t: 'call', fn: id.v, target: n, args: this.args() };
        } else {
          n = { t: 'select', obj: n, field: id.v };
        }
      } else if (this.isOp('[')) {
        this.pos++;
        const key = this.expr();
        this.expect(']');
        n = { t: 'index', obj: n, key };
      } else {
        return n;
      }
    }
  }

  private args(): Node[] {
    this.expect('(');
    const out: Node[] = [];
    if (!this.isOp(')')) {
      do out.push(this.expr());
      while (this.isOp(',') && (this.pos++, true));
    }
    this.expect(')');
    return out;
  }

  private primary(): Node {
    const t = this.next();
    if (t.k === 'num') return { t: 'lit', v: t.v };
    if (t.k === 'str') return { t: 'lit', v: t.v };
    if (t.k === 'id') {
      if (t.v === 'true' || t.v === 'false') return { t: 'lit', v: t.v === 'true' };
      if (t.v === 'null') return { t: 'lit', v: null };
      if (this.isOp('(')) {
        if (t.v === 'has') {
          const args = this.args();
          const a = args[0];
          if (args.length !== 1 || !a || a.t !== 'select') throw this.err('has() takes one field selection, e.g. has(event.data.x)');
          return { t: 'has', obj: a.obj, field: a.field };
        }
        if (MACROS.has(t.v)) throw this.err(`the macro ${t.v}() is not supported in bulwark's routing rules`);
        if (!GLOBAL_FUNCS.has(t.v) || t.v === 'uint' || t.v === 'type') {
          throw this.err(`unsupported function ${t.v}() (supported: has, size, int, double, string, bool)`);
        }
        const args = this.args();
        if (args.length !== 1) throw this.err(`${t.v}() takes one argument`);
        return { t: 'call', fn: t.v, args };
      }
      return { t: 'ident', name: t.v };
    }
    if (t.k === 'op' && t.v === '(') {
      const n = this.expr();
      this.expect(')');
      return n;
    }
    if (t.k === 'op' && t.v === '[') {
      const items: Node[] = [];
      if (!this.isOp(']')) {
        do {
          if (this.isOp(']')) break;
          items.push(this.expr());
        } while (this.isOp(',') && (this.pos++, true));
      }
      this.expect(']');
      return { t: 'list', items };
    }
    if (t.k === 'op' && t.v === '{') {
      const entries: Array<[Node, Node]> = [];
      if (!this.isOp('}')) {
        do {
          if (this.isOp('}')) break;
          const k = this.expr();
          this.expect(':');
          entries.push([k, this.expr()]);
        } while (this.isOp(',') && (this.pos++, true));
      }
      this.expect('}');
      return { t: 'map', entries };
    }
    throw this.err(`unexpected ${this.show(t)}`);
  }
}

// ---- evaluation ----

function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'null_type';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'double';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Uint8Array) return 'bytes';
  return 'map';
}

/** JSON values from the event: whole numbers stay doubles, as JSON numbers are doubles in CEL. */
function fromJson(v: unknown): Value {
  if (v === undefined) return null;
  return v as Value;
}

function isMap(v: unknown): v is Record<string, Value> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function isNum(v: unknown): v is number | bigint {
  return typeof v === 'number' || typeof v === 'bigint';
}

function compareNum(a: number | bigint, b: number | bigint): number {
  if (typeof a === typeof b) return a < b ? -1 : a > b ? 1 : 0;
  const x = Number(a);
  const y = Number(b);
  return x < y ? -1 : x > y ? 1 : Number.isNaN(x) || Number.isNaN(y) ? NaN : 0;
}

function equals(a: Value, b: Value): boolean {
  if (isNum(a) && isNum(b)) return compareNum(a, b) === 0;
  if (a === null || b === null) return a === b;
  if (typeof a !== typeof b) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => equals(x, b[i]!));
  }
  if (isMap(a)) {
    if (!isMap(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => k in b && equals(a[k]!, b[k]!));
  }
  return a === b;
}

function evaluate(ast: Node, vars: Record<string, unknown>, regexes: Map<string, RegExp>): Value {
  const ev = (n: Node): Value => {
    switch (n.t) {
      case 'lit':
        return n.v;
      case 'ident':
        if (!(n.name in vars)) throw new CelError(`undeclared reference to '${n.name}'`);
        return fromJson(vars[n.name]);
      case 'select': {
        const o = ev(n.obj);
        if (!isMap(o)) throw new CelError(`cannot select field '${n.field}' from ${typeName(o)}`);
        if (!Object.hasOwn(o, n.field)) throw new CelError(`no such key: ${n.field}`);
        return fromJson(o[n.field]);
      }
      case 'has': {
        const o = ev(n.obj);
        if (!isMap(o)) throw new CelError(`has() cannot test field '${n.field}' on ${typeName(o)}`);
        return Object.hasOwn(o, n.field);
      }
      case 'index': {
        const o = ev(n.obj);
        const k = ev(n.key);
        if (Array.isArray(o)) {
          if (!isNum(k) || (typeof k === 'number' && !Number.isInteger(k))) throw new CelError(`invalid list index of type ${typeName(k)}`);
          const i = Number(k);
          if (i < 0 || i >= o.length) throw new CelError(`index out of range: ${i}`);
          return o[i]!;
        }
        if (isMap(o)) {
          const key = typeof k === 'string' ? k : String(k);
          if (!Object.hasOwn(o, key)) throw new CelError(`no such key: ${key}`);
          return fromJson(o[key]);
        }
        throw new CelError(`cannot index ${typeName(o)}`);
      }
      case 'unary': {
        const v = ev(n.arg);
        if (n.op === '!') {
          if (typeof v !== 'boolean') throw new CelError(`no such overload: !${typeName(v)}`);
          return !v;
        }
        if (!isNum(v)) throw new CelError(`no such overload: -${typeName(v)}`);
        return -v as Value;
      }
      case 'cond': {
        const c = ev(n.c);
        if (typeof c !== 'boolean') throw new CelError(`condition of ?: is ${typeName(c)}, not bool`);
        return c ? ev(n.a) : ev(n.b);
      }
      case 'list':
        return n.items.map(ev);
      case 'map': {
        const m: Record<string, Value> = {};
        for (const [k, v] of n.entries) m[String(ev(k))] = ev(v);
        return m;
      }
      case 'binary':
        return binary(n.op, n.l, n.r);
      case 'call':
        return call(n);
    }
  };

  // && and || are commutative in CEL: an error on one side is absorbed when the other decides.
  const logic = (op: string, l: Node, r: Node): Value => {
    const decisive = op === '||';
    let err: unknown;
    let a: Value = null;
    try {
      a = ev(l);
      if (typeof a !== 'boolean') throw new CelError(`no such overload: ${typeName(a)} ${op} ...`);
      if (a === decisive) return decisive;
    } catch (e) {
      err = e;
    }
    const b = ev(r);
    if (typeof b !== 'boolean') throw new CelError(`no such overload: ... ${op} ${typeName(b)}`);
    if (b === decisive) return decisive;
    if (err) throw err;
    return !decisive;
  };

  const binary = (op: string, ln: Node, rn: Node): Value => {
    if (op === '&&' || op === '||') return logic(op, ln, rn);
    const l = ev(ln);
    const r = ev(rn);
    switch (op) {
      case '==':
        return equals(l, r);
      case '!=':
        return !equals(l, r);
      case '<':
      case '<=':
      case '>':
      case '>=': {
        let c: number;
        if (isNum(l) && isNum(r)) c = compareNum(l, r);
        else if (typeof l === 'string' && typeof r === 'string') c = l < r ? -1 : l > r ? 1 : 0;
        else if (typeof l === 'boolean' && typeof r === 'boolean') c = Number(l) - Number(r);
        else throw new CelError(`no such overload: ${typeName(l)} ${op} ${typeName(r)}`);
        if (Number.isNaN(c)) return false;
        return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
      }
      case 'in':
        if (Array.isArray(r)) return r.some((x) => equals(l, x));
        if (isMap(r)) return typeof l === 'string' ? Object.hasOwn(r, l) : false;
        throw new CelError(`no such overload: ${typeName(l)} in ${typeName(r)}`);
      case '+':
        if (typeof l === 'string' && typeof r === 'string') return l + r;
        if (Array.isArray(l) && Array.isArray(r)) return [...l, ...r];
        return arith(op, l, r);
      default:
        return arith(op, l, r);
    }
  };

  const arith = (op: string, l: Value, r: Value): Value => {
    if (typeof l === 'bigint' && typeof r === 'bigint') {
      if ((op === '/' || op === '%') && r === 0n) throw new CelError(op === '/' ? 'division by zero' : 'modulus by zero');
      switch (op) {
        case '+': return l + r;
        case '-': return l - r;
        case '*': return l * r;
        case '/': return l / r;
        case '%': return l % r;
      }
    }
    if (typeof l === 'number' && typeof r === 'number' && op !== '%') {
      switch (op) {
        case '+': return l + r;
        case '-': return l - r;
        case '*': return l * r;
        case '/': return l / r;
      }
    }
    throw new CelError(`no such overload: ${typeName(l)} ${op} ${typeName(r)}`);
  };

  const call = (n: Extract<Node, { t: 'call' }>): Value => {
    const args = n.args.map(ev);
    if (n.target) {
      const s = ev(n.target);
      if (n.fn === 'size') {
        if (args.length !== 0) throw new CelError('size() takes no arguments as a method');
        return size(s);
      }
      const a = args[0];
      if (typeof s !== 'string' || args.length !== 1 || typeof a !== 'string') {
        throw new CelError(`no such overload: ${typeName(s)}.${n.fn}(${args.map(typeName).join(', ')})`);
      }
      switch (n.fn) {
        case 'startsWith': return s.startsWith(a);
        case 'endsWith': return s.endsWith(a);
        case 'contains': return s.includes(a);
        case 'matches': {
          let re = regexes.get(a);
          if (!re) {
            try {
              re = new RegExp(a, 'u');
            } catch (e) {
              throw new CelError(`invalid regular expression ${a}: ${(e as Error).message}`);
            }
            regexes.set(a, re);
          }
          return re.test(s);
        }
      }
    }
    const v = args[0]!;
    switch (n.fn) {
      case 'size':
        return size(v);
      case 'int':
        if (typeof v === 'bigint') return v;
        if (typeof v === 'number') {
          if (!Number.isFinite(v) || Math.abs(v) >= 9.223372036854775807e18) throw new CelError(`int() range error: ${v}`);
          return BigInt(Math.trunc(v));
        }
        if (typeof v === 'string' && /^[+-]?[0-9]+$/.test(v.trim())) return BigInt(v.trim());
        throw new CelError(`int() cannot convert ${typeName(v)} ${JSON.stringify(String(v))}`);
      case 'double':
        if (typeof v === 'number') return v;
        if (typeof v === 'bigint') return Number(v);
        if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
        throw new CelError(`double() cannot convert ${typeName(v)}`);
      case 'string':
        if (typeof v === 'string') return v;
        if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
        if (typeof v === 'number') return Number.isInteger(v) ? v.toFixed(0) : String(v);
        throw new CelError(`string() cannot convert ${typeName(v)}`);
      case 'bool':
        if (typeof v === 'boolean') return v;
        if (typeof v === 'string' && ['true', 'false', 't', 'f', '1', '0', 'TRUE', 'FALSE', 'True', 'False'].includes(v)) return ['true', 't', '1', 'TRUE', 'True'].includes(v);
        throw new CelError(`bool() cannot convert ${typeName(v)}`);
    }
    throw new CelError(`unsupported function ${n.fn}()`);
  };

  return ev(ast);
}

function size(v: Value): bigint {
  if (typeof v === 'string') return BigInt([...v].length);
  if (Array.isArray(v)) return BigInt(v.length);
  if (v instanceof Uint8Array) return BigInt(v.length);
  if (isMap(v)) return BigInt(Object.keys(v).length);
  throw new CelError(`no such overload: size(${typeName(v)})`);
}
