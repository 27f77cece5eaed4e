// `bulwark cert init`: the CA material a sentry uses (ca.crt, issuer.crt, issuer.key, written
// 0600 into BULWARK_HOME/certs or --dir), generated like Dapr's self-signed defaults or imported
// from an existing root and issuer (the Dapr CLI's flag names), plus the sentry's shared secret.
// `bulwark cert issue`: a certificate signed by that CA for a server or client outside the
// mesh (HTTPS fronting, curl's --cert).
import { randomBytes, createPublicKey } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseGoDuration } from '../resources/duration.js';
import { CA_DEFAULTS, CertificateAuthority, generateCa, readCaFiles, writeCa } from '../security/ca.js';
import { generateKey, keyPem, type KeyType } from '../security/x509.js';
import { SENTRY_TOKEN_FILE } from '../proxy/security.js';
import { parseArgs, UsageError } from './args.js';
import { bulwarkHome } from './options.js';

export function certDir(flag: unknown, env: NodeJS.ProcessEnv): string {
  return typeof flag === 'string' ? resolve(flag) : join(bulwarkHome(env), 'certs');
}

function keyType(v: unknown): KeyType {
  const t = (v as string | undefined) ?? 'ec-p256';
  if (t !== 'ec-p256' && t !== 'rsa-2048') throw new UsageError(`--key-type ${t}: expected ec-p256 or rsa-2048`);
  return t;
}

function duration(v: unknown, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const ms = parseGoDuration(String(v));
  if (ms === undefined || ms <= 0) throw new UsageError(`${flag} ${String(v)}: expected a duration such as 24h or 8760h`);
  return ms;
}

export function certMain(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const [sub, ...rest] = argv;
  if (sub === 'init') return initCa(rest, env);
  if (sub === 'issue') return issue(rest, env);
  throw new UsageError('usage: bulwark cert init [--dir D] | bulwark cert issue --out PREFIX [--dns name] [--ip addr] [--uri spiffe://...]');
}

function initCa(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const { flags } = parseArgs(
    argv,
    {
      dir: { type: 'string' },
      'trust-domain': { type: 'string' },
      'key-type': { type: 'string' },
      validity: { type: 'string' },
      overwrite: { type: 'boolean' },
      'ca-root-certificate': { type: 'string' },
      'issuer-public-certificate': { type: 'string' },
      'issuer-private-key': { type: 'string' },
    },
    false,
  );
  const dir = certDir(flags.dir, env);
  const imports = ['ca-root-certificate', 'issuer-public-certificate', 'issuer-private-key'].filter((f) => flags[f] !== undefined);
  let pem;
  if (imports.length > 0) {
    if (imports.length !== 3) throw new UsageError('importing needs all of --ca-root-certificate, --issuer-public-certificate and --issuer-private-key');
    const read = (f: string): string => readFileSync(resolve(String(flags[f])), 'utf8');
    pem = { anchors: read('ca-root-certificate'), issuerChain: read('issuer-public-certificate'), issuerKey: read('issuer-private-key') };
    try {
      new CertificateAuthority(pem);
    } catch (err) {
      throw new UsageError(`cannot import this CA: ${(err as Error).message}`);
    }
  } else {
    pem = generateCa({
      trustDomain: (flags['trust-domain'] as string | undefined) ?? 'localhost',
      keyType: keyType(flags['key-type']),
      validityMs: duration(flags.validity, '--validity', CA_DEFAULTS.validityMs),
    });
  }
  let written: string[];
  try {
    written = writeCa(dir, pem, flags.overwrite === true);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  for (const p of written) process.stdout.write(`written  ${p}\n`);
  const tokenFile = join(dir, SENTRY_TOKEN_FILE);
  if (!existsSync(tokenFile) || flags.overwrite === true) {
    writeFileSync(tokenFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    chmodSync(tokenFile, 0o600);
    process.stdout.write(`written  ${tokenFile}\n`);
  }
  const ca = new CertificateAuthority(pem);
  process.stdout.write(`✅  CA ${imports.length > 0 ? 'imported' : 'created'} in ${dir} (issuer valid until ${ca.notAfter.toISOString()})\n`);
  process.stdout.write(`   sidecars trust it with DAPR_TRUST_ANCHORS="$(cat ${join(dir, 'ca.crt')})" (or find it there by default)\n`);
  return 0;
}

function issue(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const { flags } = parseArgs(
    argv,
    {
      dir: { type: 'string' },
      out: { type: 'string' },
      dns: { type: 'string', multiple: true },
      ip: { type: 'string', multiple: true },
      uri: { type: 'string', multiple: true },
      ttl: { type: 'string' },
      'key-type': { type: 'string' },
    },
    false,
  );
  const out = flags.out as string | undefined;
  if (!out) throw new UsageError('--out PREFIX is required (writes PREFIX.crt and PREFIX.key)');
  const dir = certDir(flags.dir, env);
  const pem = readCaFiles(dir);
  if (!pem) throw new UsageError(`no CA in ${dir}: run \`bulwark cert init\` first`);
  const ca = new CertificateAuthority(pem);
  const san = { dns: (flags.dns as string[] | undefined) ?? [], ips: (flags.ip as string[] | undefined) ?? [], uris: (flags.uri as string[] | undefined) ?? [] };
  if (san.dns.length + san.ips.length + san.uris.length === 0) throw new UsageError('name the certificate with at least one --dns, --ip or --uri');
  const key = generateKey(keyType(flags['key-type']));
  const issued = ca.signServer(createPublicKey(key), san, duration(flags.ttl, '--ttl', CA_DEFAULTS.workloadTtlMs));
  const base = resolve(out);
  writeFileSync(`${base}.crt`, issued.certChain);
  writeFileSync(`${base}.key`, keyPem(key), { mode: 0o600 });
  process.stdout.write(`written  ${base}.crt\nwritten  ${base}.key\n✅  valid until ${issued.notAfter.toISOString()}\n`);
  return 0;
}
