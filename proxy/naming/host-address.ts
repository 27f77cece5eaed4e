// The address this sidecar announces to peers (Dapr's rules, self-hosted): DAPR_HOST_IP if
// set; the listen address when it is a specific one; for a wildcard listener, the first
// non-internal IPv4 address of this machine (loopback when there is none).
import { networkInterfaces } from 'node:os';

export function announcedAddress(hostIp: string | undefined, listenAddress: string): string {
  if (hostIp) return hostIp;
  if (listenAddress !== '0.0.0.0' && listenAddress !== '::' && listenAddress !== '') return listenAddress;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
