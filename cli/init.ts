// `bulwark init`: writes the default resources into BULWARK_HOME (default ~/.bulwark): embedded
// components only, no Docker, no server. Existing files are left alone, as `dapr init` does.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { embeddedDefaultsYaml } from '../proxy/embedded-defaults.js';
import { parseArgs } from './args.js';
import { bulwarkHome } from './options.js';

const CONFIG = `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: bulwarkConfig
spec:
  metric:
    enabled: true
`;

export function initMain(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  parseArgs(argv, { slim: { type: 'boolean' } }, false);
  const home = bulwarkHome(env);
  const dir = join(home, 'components');
  mkdirSync(dir, { recursive: true });
  const files: Record<string, string> = {};
  for (const [name, text] of Object.entries(embeddedDefaultsYaml(home))) files[join(dir, name)] = text;
  files[join(home, 'config.yaml')] = CONFIG;
  for (const [path, text] of Object.entries(files)) {
    if (existsSync(path)) {
      process.stdout.write(`kept     ${path}\n`);
      continue;
    }
    writeFileSync(path, text);
    process.stdout.write(`written  ${path}\n`);
  }
  process.stdout.write(`✅  bulwark initialized in ${home}\n`);
  return 0;
}
