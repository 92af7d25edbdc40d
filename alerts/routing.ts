import type { AlertEvent } from './alert.js';
import type { QuietHoursConfig, SlackRoute } from './config.js';

/** Returns the channel of the first rule that matches the event, or `defaultChannel`. */
export function routeAlert(event: AlertEvent, routes: readonly SlackRoute[], defaultChannel: string): string {
  const route = routes.find((candidate) => routeMatches(candidate, event));
  return route ? route.channel : defaultChannel;
}

function routeMatches(route: SlackRoute, event: AlertEvent): boolean {
  const { match } = route;
  return (
    fieldMatches(match.plant, event.plant) &&
    fieldMatches(match.integration, event.integration) &&
    fieldMatches(match.workflow, event.workflow) &&
    fieldMatches(match.severity, event.severity)
  );
}

function fieldMatches(allowed: readonly string[] | undefined, value: string | undefined): boolean {
  if (allowed === undefined) return true;
  return value !== undefined && allowed.includes(value);
}

export type SyncMode = 'real_time' | 'near_real_time' | 'batch';

/**
 * Decides whether an event waits for the end of quiet hours. Only events
 * whose workflow has a sync mode and a severity listed under `appliesTo` wait.
 * Events without a workflow never wait, because nothing says they tolerate delay.
 */
export function isQuiet(
  event: Pick<AlertEvent, 'workflow' | 'severity'>,
  quietHours: QuietHoursConfig | undefined,
  syncModeOf: (workflow: string) => SyncMode | undefined,
  now: Date,
): boolean {
  if (!quietHours || event.workflow === undefined) return false;
  const syncMode = syncModeOf(event.workflow);
  if (syncMode === undefined || !quietHours.appliesTo.syncModes.includes(syncMode)) return false;
  if (!quietHours.appliesTo.severities.includes(event.severity)) return false;
  return isWithinQuietHours(quietHours, now);
}

/** Tells whether `now`, read on the wall clock of `timeZone`, lies in [start, end). */
export function isWithinQuietHours(quietHours: Pick<QuietHoursConfig, 'start' | 'end' | 'timeZone'>, now: Date): boolean {
  const minute = minuteOfDay(now, quietHours.timeZone);
  const start = parseClock(quietHours.start);
  const end = parseClock(quietHours.end);
  if (start === end) return false;
  return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}

function minuteOfDay(now: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(now);
  const hour = Number(parts.find((part) => part.type === 'hour')?.value ?? 0);
  const minute = Number(parts.find((part) => part.type === 'minute')?.value ?? 0);
  return hour * 60 + minute;
}

function parseClock(text: string): number {
  const [hours, minutes] = text.split(':').map(Number);
  return (hours ?? 0) * 60 + (minutes ?? 0);
}
