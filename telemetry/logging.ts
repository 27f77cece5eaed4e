// Structured logs in Dapr's two shapes: logfmt-like text (`time=... level=info msg=...`, the
// rest alphabetical) or one JSON object per line with keys in alphabetical order, as logrus
// writes them: app_id, instance, level, msg, scope, time, type, ver and any extra fields.
// The level `warn` is written as `warning`, as Dapr does.
import { hostname } from 'node:os';
import type { Logger } from '../core/component.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, fatal: 50 };
const WIRE_LEVEL: Record<LogLevel, string> = { debug: 'debug', info: 'info', warn: 'warning', error: 'error', fatal: 'fatal' };
const HOST = hostname();

export function isLogLevel(v: string): v is LogLevel {
  return v in ORDER;
}

export interface LogOptions {
  level: LogLevel;
  json: boolean;
  appId: string;
  version: string;
  write?: (line: string) => void;
}

class LineLogger implements Logger {
  constructor(
    private readonly opts: LogOptions,
    private readonly fields: Record<string, unknown>,
  ) {}

  private emit(level: LogLevel, msg: string, extra?: Record<string, unknown>): void {
    if (ORDER[level] < ORDER[this.opts.level]) return;
    const record: Record<string, unknown> = {
      app_id: this.opts.appId,
      instance: HOST,
      level: WIRE_LEVEL[level],
      msg,
      scope: 'dapr.runtime',
      time: new Date().toISOString(),
      type: 'log',
      ver: this.opts.version,
      ...this.fields,
      ...extra,
    };
    const line = this.opts.json ? JSON.stringify(sorted(record)) : toText(record);
    (this.opts.write ?? defaultWrite)(line);
  }

  debug(msg: string, f?: Record<string, unknown>): void { this.emit('debug', msg, f); }
  info(msg: string, f?: Record<string, unknown>): void { this.emit('info', msg, f); }
  warn(msg: string, f?: Record<string, unknown>): void { this.emit('warn', msg, f); }
  error(msg: string, f?: Record<string, unknown>): void { this.emit('error', msg, f); }
  child(fields: Record<string, unknown>): Logger {
    return new LineLogger(this.opts, { ...this.fields, ...fields });
  }
}

function defaultWrite(line: string): void {
  process.stderr.write(line + '\n');
}

function sorted(r: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k];
  return out;
}

const FIRST = ['time', 'level', 'msg'];

function toText(r: Record<string, unknown>): string {
  const parts: string[] = [];
  const keys = [...FIRST, ...Object.keys(r).filter((k) => !FIRST.includes(k)).sort()];
  for (const k of keys) {
    const v = r[k];
    if (v === undefined) continue;
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    parts.push(`${k}=${/[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s}`);
  }
  return parts.join(' ');
}

export function createLogger(opts: LogOptions): Logger {
  return new LineLogger(opts, {});
}
