import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * A duration written as `250ms`, `30s`, `5m`, `2h` or `1d`, or a number of
 * milliseconds; parsed to milliseconds.
 */
export const durationSchema = z
  .union([
    z.number().int().positive(),
    z.string().regex(/^\d+(\.\d+)?(ms|s|m|h|d)$/, 'expected a duration such as 500ms, 30s, 5m, 2h or 1d'),
  ])
  .transform((value) => (typeof value === 'number' ? value : parseDurationMs(value)));

/** Parses `30s`-style text to milliseconds; throws on anything else. */
export function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) throw new Error(`invalid duration "${text}": expected a number and a unit (ms, s, m, h, d), such as 30s`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
}
