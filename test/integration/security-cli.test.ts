// `bulwark cert init` and `bulwark cert issue` through the real CLI, checked with an
// independent implementation (the openssl command): generated CA, import of an existing root
// and issuer, refusals with a clear message, file modes.
import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, startProcess, tempDir } from '../helpers/processes.js';

async function bulwark(home: string, ...args: string[]): Promise<{ code: number | null; out: string }> {
  const p = startProcess(process.execPath, [CLI, ...args], { env: { BULWARK_HOME: home } });
  const { code } = await p.exited;
  return { code, out: p.output() };
}

function openssl(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('bulwark cert', () => {
  it('init writes a CA that openssl accepts, with private files', async () => {
    const home = tempDir();
    const r = await bulwark(home, 'cert', 'init');
    expect(r.code).toBe(0);
    const dir = join(home, 'certs');
    for (const f of ['ca.crt', 'issuer.crt', 'issuer.key', 'sentry.token']) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    expect(openssl('verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'issuer.crt')).out).toMatch(/OK/);
    expect(openssl('x509', '-in', join(dir, 'issuer.crt'), '-noout', '-text').out).toMatch(/CA:TRUE[\s\S]*Certificate Sign, CRL Sign/);
    expect(openssl('pkey', '-in', join(dir, 'issuer.key'), '-noout', '-text').out).toMatch(/prime256v1|P-256/);
  });

  it('issue writes a certificate openssl verifies against the CA, with the names asked for', async () => {
    const home = tempDir();
    await bulwark(home, 'cert', 'init');
    const out = join(home, 'svc');
    expect((await bulwark(home, 'cert', 'issue', '--out', out, '--dns', 'localhost', '--ip', '127.0.0.1', '--uri', 'spiffe://public/ns/default/svc')).code).toBe(0);
    const dir = join(home, 'certs');
    expect(openssl('verify', '-CAfile', join(dir, 'ca.crt'), '-untrusted', join(dir, 'issuer.crt'), `${out}.crt`).out).toMatch(/OK/);
    const text = openssl('x509', '-in', `${out}.crt`, '-noout', '-text').out;
    expect(text).toMatch(/DNS:localhost, IP Address:127.0.0.1, URI:spiffe:\/\/public\/ns\/default\/svc|URI:spiffe:\/\/public\/ns\/default\/svc, DNS:localhost, IP Address:127.0.0.1/);
    expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toMatch(/CA:FALSE/);
  });

  it('init refuses to overwrite an existing CA', async () => {
    const home = tempDir();
    await bulwark(home, 'cert', 'init');
    const r = await bulwark(home, 'cert', 'init');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/exists already/);
  });

  it('imports an existing root and issuer (here one made by openssl)', async () => {
    const src = tempDir();
    const k = (f: string): string => join(src, f);
    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', k('root.key'));
    openssl('req', '-x509', '-new', '-key', k('root.key'), '-subj', '/O=imported', '-days', '30', '-out', k('root.crt'), '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', k('issuer.key'));
    openssl('req', '-new', '-key', k('issuer.key'), '-subj', '/O=issuer', '-out', k('issuer.csr'));
    const ext = join(src, 'ext.cnf');
    writeFileSync(ext, 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n');
    openssl('x509', '-req', '-in', k('issuer.csr'), '-CA', k('root.crt'), '-CAkey', k('root.key'), '-CAcreateserial', '-days', '30', '-extfile', ext, '-out', k('issuer.crt'));
    const home = tempDir();
    const r = await bulwark(home, 'cert', 'init', '--ca-root-certificate', k('root.crt'), '--issuer-public-certificate', k('issuer.crt'), '--issuer-private-key', k('issuer.key'));
    expect(r.out).toMatch(/imported/);
    expect(r.code).toBe(0);
    const out = join(home, 'svc');
    expect((await bulwark(home, 'cert', 'issue', '--out', out, '--dns', 'localhost')).code).toBe(0);
    expect(openssl('verify', '-CAfile', k('root.crt'), '-untrusted', k('issuer.crt'), `${out}.crt`).out).toMatch(/OK/);
  });

  it('refuses to import an issuer key that does not match', async () => {
    const a = tempDir();
    const b = tempDir();
    await bulwark(a, 'cert', 'init');
    await bulwark(b, 'cert', 'init');
    const r = await bulwark(tempDir(), 'cert', 'init', '--ca-root-certificate', join(a, 'certs/ca.crt'), '--issuer-public-certificate', join(a, 'certs/issuer.crt'), '--issuer-private-key', join(b, 'certs/issuer.key'));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/does not match the issuer/);
  });
});
