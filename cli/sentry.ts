// `bulwark sentry`: the CA service sidecars get workload certificates from. It uses the CA in
// --issuer-credentials (default BULWARK_HOME/certs) and creates one there when none exists,
// as Dapr's Sentry does; workloadCertTTL and allowedClockSkew come from --config spec.mtls.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfigurations } from '../resources/configuration.js';
import { parseGoDuration } from '../resources/duration.js';
import { CA_DEFAULTS, CertificateAuthority, generateCa, readCaFiles, writeCa } from '../security/ca.js';
import { DEFAULT_SENTRY_PORT } from '../security/sentry-protocol.js';
import { Sentry } from '../security/sentry.js';
import { SENTRY_TOKEN_FILE } from '../proxy/security.js';
import { parseArgs, UsageError } from './args.js';
import { certDir } from './cert.js';

export async function sentryMain(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { flags } = parseArgs(
    argv,
    {
      port: { type: 'int' },
      'listen-address': { type: 'string' },
      'issuer-credentials': { type: 'string', aliases: ['dir'] },
      'trust-domain': { type: 'string' },
      config: { type: 'string' },
      'token-file': { type: 'string' },
    },
    false,
  );
  const log = (level: 'info' | 'warn', line: string): void => {
    process.stdout.write(`time=${new Date().toISOString()} level=${level} msg=${JSON.stringify(line)} scope=bulwark.sentry\n`);
  };
  const dir = certDir(flags['issuer-credentials'], env);
  const trustDomain = (flags['trust-domain'] as string | undefined) ?? 'localhost';
  let pem = readCaFiles(dir);
  if (!pem) {
    pem = generateCa({ trustDomain });
    writeCa(dir, pem);
    log('info', `no CA in ${dir}: created a self-signed root and issuer there`);
  }
  let ca: CertificateAuthority;
  try {
    ca = new CertificateAuthority(pem);
  } catch (err) {
    throw new UsageError(`CA in ${dir}: ${(err as Error).message}`);
  }
  let workloadTtlMs: number = CA_DEFAULTS.workloadTtlMs;
  let allowedClockSkewMs: number = CA_DEFAULTS.allowedClockSkewMs;
  if (flags.config) {
    const cfg = loadConfigurations([resolve(String(flags.config))], env);
    const d = (field: string): number | undefined => {
      const v = cfg.mtls[field];
      if (v === undefined || v === '') return undefined;
      const ms = parseGoDuration(String(v));
      if (ms === undefined) throw new UsageError(`${String(flags.config)}: spec.mtls.${field} ${String(v)} is not a duration`);
      return ms;
    };
    workloadTtlMs = d('workloadCertTTL') ?? workloadTtlMs;
    allowedClockSkewMs = d('allowedClockSkew') ?? allowedClockSkewMs;
  }
  const tokenFile = flags['token-file'] ? resolve(String(flags['token-file'])) : join(dir, SENTRY_TOKEN_FILE);
  const secret = existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined;
  if (flags['token-file'] && secret === undefined) throw new UsageError(`--token-file ${tokenFile} does not exist`);
  if (secret === undefined) log('warn', `no shared secret (${tokenFile}): any local process can get a certificate for any app id (Dapr's self-hosted "insecure" validator)`);
  const sentry = await Sentry.start({
    ca,
    port: (flags.port as number | undefined) ?? DEFAULT_SENTRY_PORT,
    host: (flags['listen-address'] as string | undefined) ?? '127.0.0.1',
    trustDomain,
    namespace: env.NAMESPACE || 'default',
    workloadTtlMs,
    allowedClockSkewMs,
    secret,
    log,
  });
  log('info', `sentry listening on ${(flags['listen-address'] as string | undefined) ?? '127.0.0.1'}:${sentry.port} (workload TTL ${workloadTtlMs / 1000}s, clock skew ${allowedClockSkewMs / 1000}s, CA ${dir})`);
  return new Promise((resolveDone) => {
    const stop = (): void => void sentry.close().then(() => resolveDone(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
