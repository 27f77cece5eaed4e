// The sidecar's workload certificate over time: obtained before the internal listener starts,
// renewed at half of its remaining life with a new key, a failed renewal retried every 10 s
// while the current certificate keeps serving. Rotation swaps contexts for new connections
// only (MtlsContext), so requests in flight and new requests both succeed.
import { MtlsContext, leafNotAfter, type Credentials } from './tls.js';

export type CredentialSource = () => Promise<Credentials>;

export interface RotationLog {
  info(msg: string): void;
  warn(msg: string): void;
}

/** Told of each renewal after the first certificate (for daprd's rotation counters). */
export interface RotationEvents {
  rotated(): void;
  rotationFailed(err: unknown): void;
}

export const RETRY_MS = 10_000;

export class WorkloadCertificate {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  rotations = 0;
  failures = 0;

  private constructor(
    readonly context: MtlsContext,
    private readonly source: CredentialSource | undefined,
    private readonly log: RotationLog,
    private readonly events: RotationEvents | undefined,
  ) {}

  /** `source` undefined: static credentials (from files), never renewed. */
  static async start(first: Credentials | CredentialSource, log: RotationLog, events?: RotationEvents): Promise<WorkloadCertificate> {
    const source = typeof first === 'function' ? first : undefined;
    const creds = typeof first === 'function' ? await first() : first;
    const w = new WorkloadCertificate(new MtlsContext(creds), source, log, events);
    log.info(`workload certificate ${w.context.identity.uri}, valid until ${w.context.notAfter.toISOString()}`);
    // Renewal stops with the listeners that use the certificate.
    w.context.onDetached(() => w.close());
    w.schedule();
    return w;
  }

  private schedule(): void {
    if (this.closed) return;
    const now = Date.now();
    const notAfter = this.context.notAfter.getTime();
    if (!this.source) {
      // Static files: only warn before they run out.
      const warnIn = Math.max(0, notAfter - now - 3_600_000);
      this.timer = setTimeout(() => this.log.warn(`the workload certificate expires at ${new Date(notAfter).toISOString()} and is not renewed (static files)`), Math.min(warnIn, 2 ** 31 - 1));
      this.timer.unref();
      return;
    }
    const delay = Math.max(1000, (notAfter - now) / 2);
    this.timer = setTimeout(() => void this.renew(), Math.min(delay, 2 ** 31 - 1));
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    try {
      const creds = await this.source!();
      if (this.closed) return;
      this.context.rotate(creds);
      this.rotations++;
      this.events?.rotated();
      this.log.info(`workload certificate rotated, valid until ${leafNotAfter(creds.certChain).toISOString()}`);
      this.schedule();
    } catch (err) {
      this.failures++;
      this.events?.rotationFailed(err);
      this.log.warn(`workload certificate renewal failed (retrying in ${RETRY_MS / 1000}s): ${(err as Error).message}`);
      if (this.closed) return;
      this.timer = setTimeout(() => void this.renew(), RETRY_MS);
      this.timer.unref();
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
