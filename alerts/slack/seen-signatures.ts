import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../../server/logger.js';
import { SLACK_TIMESTAMP_TOLERANCE_S } from './signature.js';

/**
 * How long a signature is remembered. A request's timestamp may lie up to the
 * tolerance before or after now, so a signature can pass the timestamp check
 * for twice the tolerance.
 */
const REMEMBER_MS = 2 * SLACK_TIMESTAMP_TOLERANCE_S * 1000;

interface SeenFile {
  version: 1;
  /** SHA-256 of each signature, hex, mapped to when it was first received, in Unix milliseconds. */
  seen: Record<string, number>;
}

/**
 * Signatures of accepted Slack requests during the timestamp window, so a
 * captured request is rejected as a replay, also after a restart. With a
 * path, each new signature is written to the file before the request is
 * processed; the file keeps SHA-256 digests, not the signatures.
 */
export class SeenSignatures {
  readonly #path: string | undefined;
  readonly #logger: Logger;
  readonly #seen = new Map<string, number>();

  constructor(path: string | undefined, logger: Logger, nowMs: number) {
    this.#path = path;
    this.#logger = logger;
    if (path) this.#load(path, nowMs);
  }

  /** Remembers a signature and returns false when it was received within the window already. */
  remember(signature: string, nowMs: number): boolean {
    this.#prune(nowMs);
    const digest = createHash('sha256').update(signature).digest('hex');
    if (this.#seen.has(digest)) return false;
    this.#seen.set(digest, nowMs);
    this.#write();
    return true;
  }

  #prune(nowMs: number): void {
    for (const [digest, at] of this.#seen) {
      if (at >= nowMs - REMEMBER_MS) continue;
      this.#seen.delete(digest);
    }
  }

  #load(path: string, nowMs: number): void {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.#logger.warn({ err: error, path }, 'reading the seen Slack signatures failed; replays within five minutes of the restart are not detected');
      }
      return;
    }
    try {
      const file = JSON.parse(text) as Partial<SeenFile>;
      for (const [digest, at] of Object.entries(file.seen ?? {})) {
        if (typeof at === 'number' && at >= nowMs - REMEMBER_MS) this.#seen.set(digest, at);
      }
    } catch (error) {
      this.#logger.warn({ err: error, path }, 'the seen Slack signatures file is not valid JSON; starting without it');
    }
  }

  #write(): void {
    if (!this.#path) return;
    const file: SeenFile = { version: 1, seen: Object.fromEntries(this.#seen) };
    try {
      mkdirSync(dirname(this.#path), { recursive: true });
      const temporary = `${this.#path}.tmp`;
      writeFileSync(temporary, JSON.stringify(file), { mode: 0o600 });
      renameSync(temporary, this.#path);
    } catch (error) {
      this.#logger.error({ err: error, path: this.#path }, 'writing the seen Slack signatures failed; a restart forgets them');
    }
  }
}
