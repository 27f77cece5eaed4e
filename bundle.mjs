// The second step of `npm run build`: after tsc has type-checked and emitted dist/, bundles the
// `bulwark` CLI (cli/main.ts and everything it imports from this repository) over
// dist/cli/main.js, so the bin, the tests and the load tests run one bundled file instead of
// Node's module loader resolving and reading about 180 of our modules at start-up (most of the
// sidecar's CPU time until healthy; loadtest/README.md, Start-up). The other files tsc emits stay
// in dist/ for the tests and load tests that import single modules.
//
// - Each `import()` the code makes on demand (a subcommand, a component, the gRPC listener, the
//   tracer) stays a separate chunk in dist/chunks/, loaded only when it runs.
// - Packages stay external: they load from node_modules as before, so `createRequire` lookups and
//   the proto files @dapr packages ship resolve as they did.
// - Source maps point at the TypeScript sources.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist/chunks', { recursive: true, force: true });
await build({
  entryPoints: ['cli/main.ts'],
  outdir: 'dist',
  entryNames: 'cli/[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  allowOverwrite: true,
  logLevel: 'warning',
});
