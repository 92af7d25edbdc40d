import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Record of a running service, read by other local processes such as `syncwatch sql`. */
export interface ServiceRecord {
  pid: number;
  apiUrl: string;
  otlpUrl: string;
  startedAt: string;
}

const SERVICE_FILE = 'service.json';
const TOKEN_FILE = 'api-token';

/** Writes the record of the running service into its data directory. */
export function writeServiceRecord(dataDir: string, record: ServiceRecord): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, SERVICE_FILE), `${JSON.stringify(record, null, 2)}\n`);
}

/** Removes the service record, unless another process has taken the directory over. */
export function removeServiceRecord(dataDir: string, pid = process.pid): void {
  if (readServiceRecord(dataDir)?.pid === pid) rmSync(join(dataDir, SERVICE_FILE), { force: true });
}

/** Returns the record of a live service owning `dataDir`, or undefined. */
export function readLiveServiceRecord(dataDir: string): ServiceRecord | undefined {
  const record = readServiceRecord(dataDir);
  return record && isProcessAlive(record.pid) ? record : undefined;
}

function readServiceRecord(dataDir: string): ServiceRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, SERVICE_FILE), 'utf8')) as ServiceRecord;
  } catch {
    return undefined;
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Returns the local API token stored in `dataDir`, creating one readable only
 * by the owner on first use. Local commands authenticate with it when no
 * token is configured.
 */
export function ensureLocalApiToken(dataDir: string): string {
  const path = join(dataDir, TOKEN_FILE);
  const existing = readLocalApiToken(dataDir);
  if (existing) return existing;
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return token;
}

/** Returns the local API token, or undefined when there is none or it cannot be read. */
export function readLocalApiToken(dataDir: string): string | undefined {
  try {
    return readFileSync(join(dataDir, TOKEN_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
