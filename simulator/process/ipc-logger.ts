import type { ChildMessage } from '../process-protocol.js';

type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Logger of a system process; records go to the network, which logs them through its pino logger. */
export interface ProcessLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** Sends a message to the parent process; does nothing once the IPC channel is closed. */
export function sendToParent(message: ChildMessage): void {
  if (process.send && process.connected) process.send(message);
}

/** Creates a logger that forwards records over the IPC channel. */
export function createProcessLogger(): ProcessLogger {
  const log = (level: LogLevel) => (fields: Record<string, unknown>, message: string) =>
    sendToParent({ type: 'log', level, fields, message });
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** Converts an error into plain log fields. */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { err: { name: error.name, message: error.message } };
  return { err: { message: String(error) } };
}
