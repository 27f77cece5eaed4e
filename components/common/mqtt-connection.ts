// What the MQTT pub/sub and binding components share: the broker URL in mqtt.js's schemes, and
// the client options Dapr's mqtt3 components use (MQTT 3.1.1, reconnect every second, TLS from
// `caCert` / `clientCert` / `clientKey` given as PEM text or as a file path).
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import { meta } from '../../core/component.js';

/** `tcp://` and `ssl://` / `tls://` / `tcps://` as mqtt.js spells them. */
export function mqttBrokerUrl(raw: string): string {
  return raw.replace(/^tcp:\/\//i, 'mqtt://').replace(/^(ssl|tcps|tls):\/\//i, 'mqtts://');
}

export function mqttClientOptions(md: Readonly<Record<string, string>>, clean: boolean): IClientOptions {
  const pem = (key: string): string | undefined => {
    const v = meta(md, key)?.trim();
    if (!v) return undefined;
    return v.startsWith('-----') ? v : readFileSync(v, 'utf8');
  };
  return {
    clean,
    protocolVersion: 4,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    ca: pem('caCert'),
    cert: pem('clientCert'),
    key: pem('clientKey'),
  };
}
