// The one place the proxy loads undici, and only when the first connection pool is built: a
// sidecar without an app and without outbound calls never loads it (about 25 ms of start-up and
// 3 MB). undici's index module loads every part of the package (fetch, WebSocket, cookies,
// cache, mocks, interceptors: about 50 ms more and 3 MB of heap), so Pool and Agent are taken
// from their own modules, with the request API undici's index attaches to every dispatcher.
// undici has no exports map; test/unit/lazy-libraries.test.ts checks these are the package's
// own classes, so an upgrade that moves them fails there.
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

export type Pool = Undici.Pool;
export type Agent = Undici.Agent;
export type PoolOptions = Undici.Pool.Options;
export type AgentOptions = Undici.Agent.Options;
export type { Dispatcher } from 'undici';

interface Pieces {
  Pool: typeof Undici.Pool;
  Agent: typeof Undici.Agent;
}

let pieces: Pieces | undefined;

/** undici's Pool and Agent classes, loaded on first call. */
export function undiciPieces(): Pieces {
  if (pieces) return pieces;
  const require = createRequire(import.meta.url);
  const dispatcher = require('undici/lib/dispatcher/dispatcher.js') as typeof Undici.Dispatcher;
  // What undici's index.js does once for every dispatcher: request(), stream(), pipeline(), ...
  Object.assign(dispatcher.prototype, require('undici/lib/api/index.js'));
  pieces = { Pool: require('undici/lib/dispatcher/pool.js'), Agent: require('undici/lib/dispatcher/agent.js') } as Pieces;
  return pieces;
}

export function newPool(origin: string, options: PoolOptions): Pool {
  return new (undiciPieces().Pool)(origin, options);
}

export function newAgent(options: AgentOptions): Agent {
  return new (undiciPieces().Agent)(options);
}
