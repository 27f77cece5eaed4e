// Certificate rotation under load. BOUNDED LONG RUN: ~75 s of steady traffic (the slowest
// security test). The sentry issues 60-second workload certificates; both sidecars renew at
// half of the remaining life, so each rotates at least twice and the first certificates
// expire during the run. Four callers keep alice -> bob busy and bursts open new connections
// after each rotation; not one request may fail. A probe opens a fresh TLS connection to bob's
// internal port every few seconds and records the certificate bob presents, so the run proves
// new connections got new certificates.
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { Pool } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CertificateAuthority } from '../../security/ca.js';
import { startMember, type Member } from '../helpers/mesh.js';
import { tempDir } from '../helpers/processes.js';
import { anchors, certInit, startSentry, svid } from '../helpers/security.js';

// The gRPC API listens on 50001 by default: every sidecar here takes a free port instead.
const GRPC = ['--dapr-grpc-port', '0'];

const RUN_MS = 75_000;

let ca: CertificateAuthority;
let trust: string;
let alice: Member;
let bob: Member;

beforeAll(async () => {
  const home = tempDir('bulwark-rotation-');
  ca = await certInit(home);
  trust = anchors(home);
  const sentry = await startSentry(home, { workloadCertTTL: '60s' });
  const mtls = ['--enable-mtls', '--sentry-address', sentry.address];
  alice = await startMember('alice', home, { args: [...mtls, ...GRPC] });
  bob = await startMember('bob', home, { args: [...mtls, ...GRPC] });
}, 60_000);

function presentedCertificate(port: number): Promise<X509Certificate> {
  const client = svid(ca, 'spiffe://public/ns/default/probe');
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca: trust, cert: client.cert, key: client.key, checkServerIdentity: () => undefined }, () => {
      const cert = new X509Certificate(s.getPeerCertificate().raw);
      s.end();
      resolve(cert);
    });
    s.once('error', reject);
  });
}

describe('workload certificate rotation (60 s TTL, ~75 s bounded run)', () => {
  it(
    'rotates under steady load with zero failed requests',
    async () => {
      const pool = new Pool(alice.sidecar.url, { connections: 32 });
      const deadline = Date.now() + RUN_MS;
      let ok = 0;
      const failures: string[] = [];
      const one = async (): Promise<void> => {
        try {
          const res = await pool.request({ method: 'GET', path: '/v1.0/invoke/bob/method/hello' });
          const text = await res.body.text();
          if (res.statusCode === 200) ok++;
          else failures.push(`${res.statusCode} ${text}`);
        } catch (err) {
          failures.push(String(err));
        }
      };
      const steady = async (): Promise<void> => {
        while (Date.now() < deadline) await one();
      };
      const bursts = async (): Promise<void> => {
        while (Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 7_000));
          await Promise.all(Array.from({ length: 16 }, one));
        }
      };
      const serials = new Set<string>();
      const probe = async (): Promise<void> => {
        while (Date.now() < deadline) {
          const cert = await presentedCertificate(bob.internalPort);
          expect(Date.parse(cert.validTo)).toBeGreaterThan(Date.now() - 1000);
          serials.add(cert.serialNumber);
          await new Promise((r) => setTimeout(r, 3_000));
        }
      };
      await Promise.all([steady(), steady(), steady(), steady(), bursts(), probe()]);
      await pool.close();
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(100);
      expect(serials.size).toBeGreaterThanOrEqual(3);
      for (const m of [alice, bob]) expect(m.sidecar.output().match(/workload certificate rotated/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
    },
    RUN_MS + 30_000,
  );
});
