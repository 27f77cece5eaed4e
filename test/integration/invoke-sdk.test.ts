// Service invocation with the official SDK on both ends: DaprClient.invoker on the caller's
// sidecar, DaprServer.invoker.listen behind the callee's sidecar.
import { join } from 'node:path';
import { CommunicationProtocolEnum, DaprClient, HttpMethod } from '@dapr/dapr';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startSidecar, tempDir, type SidecarProc } from '../helpers/processes.js';

let caller: SidecarProc;

beforeAll(async () => {
  const home = tempDir('bulwark-home-');
  const callee = await startSidecar({ appId: 'sdk-callee', home, resources: {}, args: ['--app-port', '0'], app: [process.execPath, join(ROOT, 'test/fixtures/invoke-sdk-app.mjs')] });
  await callee.waitFor(/SDK APP STARTED/);
  await callee.waitFor(/application discovered/);
  caller = await startSidecar({ appId: 'sdk-caller', home, resources: {} });
});

describe('the official SDK invokes through bulwark', () => {
  it('POST with a JSON body and GET with a query, between two SDK ends', async () => {
    const client = new DaprClient({ daprHost: '127.0.0.1', daprPort: String(caller.httpPort), communicationProtocol: CommunicationProtocolEnum.HTTP });
    const echoed = await client.invoker.invoke('sdk-callee', 'orders/echo', HttpMethod.POST, { id: 7, items: ['a', 'b'] });
    // DaprServer hands an HTTP invocation's body over JSON.stringify'd, whatever the sidecar: it
    // arrived as application/json and was parsed, or this would be a quoted string of text.
    const { got, caller: seen } = echoed as { got: string; caller: string };
    expect(JSON.parse(got)).toEqual({ id: 7, items: ['a', 'b'] });
    expect(seen).toBe('sdk-caller');
    const info = await client.invoker.invoke('sdk-callee', 'orders/info?kind=open&page=2', HttpMethod.GET);
    expect(info).toEqual({ query: '/orders/info?kind=open&page=2' }); // DaprServer's `query` is the original URL
  });
});
