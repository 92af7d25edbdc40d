import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Creates the service logger at the level `SYNCWATCH_LOG_LEVEL` names
 * (default info). It writes JSON lines, except on a terminal, where lines are
 * formatted for reading unless `SYNCWATCH_LOG_FORMAT=json`.
 */
export function createLogger(level = process.env.SYNCWATCH_LOG_LEVEL ?? 'info'): Logger {
  const pretty = process.stdout.isTTY && process.env.SYNCWATCH_LOG_FORMAT !== 'json';
  if (!pretty) return pino({ name: 'syncwatch', level });
  return pino({
    name: 'syncwatch',
    level,
    transport: { target: 'pino-pretty', options: { colorize: true, singleLine: true, ignore: 'pid,hostname,name', translateTime: 'SYS:HH:MM:ss' } },
  });
}
