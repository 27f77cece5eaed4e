// The official SDK on both ends: ActorProxyBuilder (DaprClient over HTTP) on a sidecar without
// an app, calling a DaprServer + AbstractActor app and the plain-HTTP actor app behind other
// sidecars: method calls, state across calls, a failing method.
import { join } from 'node:path';
import { ActorId, ActorProxyBuilder, CommunicationProtocolEnum, DaprClient } from '@dapr/dapr';
import { beforeAll, describe, expect, it } from 'vitest';
import { sqliteActorStore, startActorHost, NO_GRPC } from '../helpers/actors.js';
import { ROOT, startSidecar, tempDir, type SidecarProc } from '../helpers/processes.js';

// The proxy takes the actor type from the class name; the methods are whatever is called.
class SdkCounter {}
class Counter {}
interface CounterApi {
  increment(by?: number): Promise<unknown>;
  get(): Promise<unknown>;
  fail(): Promise<unknown>;
}

let client: DaprClient;

beforeAll(async () => {
  const home = tempDir('bulwark-home-');
  const dir = tempDir('bulwark-actors-sdk-');
  const sdk = await startSidecar({
    appId: 'sdk-actors',
    home,
    resources: { 'store.yaml': sqliteActorStore(join(dir, 'sdk.db')) },
    args: ['--app-port', '0', '--log-level', 'info', ...NO_GRPC],
    app: [process.execPath, join(ROOT, 'test/fixtures/actor-sdk-app.mjs')],
  });
  await sdk.waitFor(/actors: joined placement/, 30_000);
  await startActorHost({ appId: 'plain-actors', home, resources: { 'store.yaml': sqliteActorStore(join(dir, 'plain.db')) } });
  const caller: SidecarProc = await startSidecar({ appId: 'sdk-actor-caller', home, resources: {}, args: NO_GRPC });
  client = new DaprClient({ daprHost: '127.0.0.1', daprPort: String(caller.httpPort), communicationProtocol: CommunicationProtocolEnum.HTTP });
});

describe('ActorProxyBuilder through bulwark', () => {
  it('calls a DaprServer + AbstractActor actor: state across calls, a failing method', async () => {
    const actor = new ActorProxyBuilder<CounterApi>(SdkCounter as never, client).build(new ActorId('sdk 1%x'));
    expect(await actor.increment(5)).toBe(5);
    expect(await actor.increment(2)).toBe(7);
    expect(await actor.get()).toBe(7);
    const other = new ActorProxyBuilder<CounterApi>(SdkCounter as never, client).build(new ActorId('sdk-2'));
    expect(await other.get()).toBe(0);
    await expect(actor.fail()).rejects.toThrow(/ERR_ACTOR_INVOKE_METHOD|error invoke actor method/);
    expect(await actor.get()).toBe(7); // the actor still serves after a failure
  });

  it('calls the plain-HTTP actor app the same way', async () => {
    const actor = new ActorProxyBuilder<CounterApi>(Counter as never, client).build(new ActorId('plain-1'));
    expect(await actor.increment()).toMatchObject({ count: 1 });
    expect(await actor.increment()).toMatchObject({ count: 2 });
    expect(await actor.get()).toMatchObject({ count: 2 });
    await expect(actor.fail()).rejects.toThrow(/boom|ERR_ACTOR_INVOKE_METHOD/);
  });
});
