// bindings.localstorage (output): files under `rootPath`. create (request metadata fileName, a
// random UUID when absent; data JSON-unquoted, then base64-decoded when it is valid base64, as
// Dapr does), get, delete and list (absolute paths, recursive). A fileName with a `..` segment,
// an absolute path outside rootPath, or a symlink leading out of it is refused.
import { randomUUID } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, realpath, rm, rmdir, writeFile } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { meta, type ComponentContext } from '../../core/component.js';
import { bindingFeatures, type Binding, type BindingInvokeRequest } from '../../core/bindings/component.js';

const NAME = 'bindings.localstorage';
const FORBIDDEN_ROOTS = ['/proc', '/sys', '/boot', '/var/run/secrets'];

export async function createLocalStorageBinding(ctx: ComponentContext): Promise<Binding> {
  const raw = meta(ctx.metadata, 'rootPath')?.trim();
  if (!raw) throw new Error(`${NAME}: metadata "rootPath" is required`);
  const root = resolve(ctx.cwd, raw);
  for (const f of FORBIDDEN_ROOTS) {
    if (root === f || root.startsWith(f + sep)) throw new Error(`${NAME}: rootPath ${root} is not allowed`);
  }
  mkdirSync(root, { recursive: true, mode: 0o777 });
  const realRoot = await realpath(root);

  /** The absolute path of fileName inside the root, or an error naming why it is refused. */
  async function target(fileName: string): Promise<string> {
    const parts = fileName.split(/[\\/]+/);
    if (parts.includes('..')) throw new Error(`fileName "${fileName}" must not contain ".."`);
    const abs = isAbsolute(fileName) ? resolve(fileName) : resolve(root, fileName);
    const rel = relative(root, abs);
    if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`fileName "${fileName}" is outside rootPath`);
    // Follow symlinks of the deepest existing ancestor: it must stay inside the root as well.
    let probe = abs;
    for (;;) {
      try {
        const real = await realpath(probe);
        const r = relative(realRoot, real);
        if (r.startsWith('..') || isAbsolute(r)) throw new Error(`fileName "${fileName}" leads outside rootPath`);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        if (probe === root) break;
        probe = dirname(probe);
      }
    }
    return abs;
  }

  async function invoke(req: BindingInvokeRequest) {
    const name = req.metadata.fileName;
    switch (req.operation) {
      case 'create': {
        const fileName = name || randomUUID();
        const file = await target(fileName);
        await mkdir(dirname(file), { recursive: true, mode: 0o777 });
        await writeFile(file, decodeCreateData(req.data));
        return { data: Buffer.from(JSON.stringify({ fileName: relative(root, file) })), contentType: 'application/json' };
      }
      case 'get': {
        if (!name) throw new Error('required metadata "fileName" is missing');
        const file = await target(name);
        try {
          return { data: await readFile(file) };
        } catch (err) {
          throw new Error(`file not found: ${name}`, { cause: err });
        }
      }
      case 'delete': {
        if (!name) throw new Error('required metadata "fileName" is missing');
        const file = await target(name);
        const st = await lstat(file).catch(() => undefined);
        if (!st) throw new Error(`error deleting file ${name}: no such file or directory`);
        // Like Go's os.Remove: a file, or an empty folder.
        if (st.isDirectory()) await rmdir(file);
        else await rm(file);
        return undefined;
      }
      case 'list': {
        const dir = name ? await target(name) : root;
        const files = await walk(dir).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') throw new Error(`folder not found: ${name}`);
          throw err;
        });
        // Go marshals an empty list as null.
        return { data: Buffer.from(files.length ? JSON.stringify(files) : 'null'), contentType: 'application/json' };
      }
      default:
        throw new Error(`unsupported operation ${req.operation}`);
    }
  }

  return {
    features: bindingFeatures(meta(ctx.metadata, 'direction'), { input: false, output: true }),
    operations: () => ['create', 'get', 'delete', 'list'],
    invoke,
  };
}

/** The bytes Dapr writes: a JSON string is unquoted, then base64 text is decoded. */
export function decodeCreateData(data: Buffer): Buffer {
  let text = data.toString('utf8');
  let bytes = data;
  if (text.startsWith('"')) {
    try {
      const s = JSON.parse(text) as unknown;
      if (typeof s === 'string') {
        text = s;
        bytes = Buffer.from(s);
      }
    } catch {
      // not a JSON string: keep as is
    }
  }
  // Go's decoder skips line breaks.
  const b64 = text.replace(/[\r\n]/g, '');
  if (isStdBase64(b64)) return Buffer.from(b64, 'base64');
  return bytes;
}

/** Go's base64.StdEncoding accepts it: padded alphabet, length a multiple of 4. */
function isStdBase64(s: string): boolean {
  return s.length > 0 && s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

async function walk(dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else out.push(p);
  }
  return out;
}
