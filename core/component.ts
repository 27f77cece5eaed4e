// What every component shares, whatever its building block. Each block declares its own
// interface in core/<block>/component.ts on top of this.

export type Category =
  | 'state' | 'pubsub' | 'bindings' | 'secretstores' | 'configuration' | 'lock' | 'crypto'
  | 'conversation' | 'middleware';

export interface Component {
  /** Feature names Dapr reports as capabilities (ETAG, TRANSACTIONAL, TTL, QUERY_API, ...). */
  readonly features?: readonly string[];
  close?(): Promise<void>;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** Everything a component factory receives. */
export interface ComponentContext {
  name: string;
  type: string;
  version: string;
  /** Resolved metadata (env, secrets and template tags applied). Keys as written. */
  metadata: Readonly<Record<string, string>>;
  appId: string;
  namespace?: string;
  /** BULWARK_HOME: where embedded components keep their files. */
  homeDir: string;
  /** The sidecar's working directory; relative paths in metadata resolve against it. */
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
}

/** Case-insensitive metadata lookup, as dapr/kit decodes component metadata. */
export function meta(md: Readonly<Record<string, string>>, ...names: string[]): string | undefined {
  for (const name of names) {
    if (name in md) return md[name];
    const lower = name.toLowerCase();
    for (const k in md) if (k.toLowerCase() === lower) return md[k];
  }
  return undefined;
}
