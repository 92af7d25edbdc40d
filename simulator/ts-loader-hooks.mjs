// Module hooks that transpile TypeScript on load with the compiler's
// transpileModule (no type check), and map `./x.js` imports to `./x.ts` when
// only the TypeScript source exists, as tsc's NodeNext resolution does.
// Output is cached in the system temp directory by content hash, so later
// processes skip loading the compiler.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CACHE_DIR = join(tmpdir(), 'syncwatch-ts-loader-cache');
const CACHE_VERSION = '1';

let compiler;

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const relative = specifier.startsWith('.') || specifier.startsWith('file:');
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !relative || !specifier.endsWith('.js')) throw error;
    return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);

  const fileName = fileURLToPath(url);
  const source = await readFile(fileName, 'utf8');
  const key = createHash('sha256').update(`${CACHE_VERSION}\0${fileName}\0${source}`).digest('hex');
  const cached = join(CACHE_DIR, `${key}.js`);
  const hit = await readFile(cached, 'utf8').catch(() => undefined);
  if (hit !== undefined) return { format: 'module', source: hit, shortCircuit: true };

  const output = await transpile(fileName, source);
  await storeInCache(cached, output);
  return { format: 'module', source: output, shortCircuit: true };
}

async function transpile(fileName, source) {
  compiler ??= (await import('typescript')).default;
  const output = compiler.transpileModule(source, {
    fileName,
    compilerOptions: {
      module: compiler.ModuleKind.ESNext,
      target: compiler.ScriptTarget.ES2022,
      inlineSourceMap: true,
    },
  });
  return output.outputText;
}

/** Writes through a temporary file and a rename, so no process reads a partly written entry. */
async function storeInCache(path, output) {
  try {
    await mkdir(CACHE_DIR, { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, output);
    await rename(temporary, path);
  } catch {
    // A cache that cannot be written only costs speed.
  }
}
