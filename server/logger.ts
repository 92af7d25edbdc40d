import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Creates the service logger: JSON lines on stdout, level from `SYNCWATCH_LOG_LEVEL` (default info). */
export function createLogger(level = process.env.SYNCWATCH_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: 'syncwatch', level });
}
