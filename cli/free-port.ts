// A port to hand to a process before it starts: `--app-port 0`, run files, loadtest and tests.
//
// A port from `listen(0)` comes from the kernel's ephemeral range, and once it is closed again the
// kernel may hand it to anyone else who binds port 0 or opens an outgoing connection, before the
// process it was meant for binds it. So the port is drawn at random from below that range, where
// the kernel never allocates on its own, and kept only if it can be bound on every address now.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOWEST = 10_000;

function ephemeralStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > LOWEST + 1000) return low;
  } catch {
    // Not Linux, or no /proc: the range Linux and most others use by default.
  }
  return 32_768;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    // No host: the unspecified address, so a port anyone holds on any address counts as taken.
    s.listen({ port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  const end = ephemeralStart();
  for (let tries = 0; tries < 50; tries++) {
    const port = LOWEST + Math.floor(Math.random() * (end - LOWEST));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port found below ${end}`);
}
