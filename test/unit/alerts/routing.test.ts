import { describe, expect, it } from 'vitest';
import { alertsConfigSchema } from '../../../alerts/config.js';
import { isQuiet, isWithinQuietHours, routeAlert } from '../../../alerts/routing.js';
import { lagAnomaly } from '../../support/alert-events.js';

const slack = alertsConfigSchema.parse({
  slack: {
    botToken: 'xoxb-1',
    defaultChannel: 'C0DEFAULT',
    routes: [
      { match: { plant: 'plant-2', severity: 'critical' }, channel: 'C0PLANT2CRIT' },
      { match: { integration: ['qms-odoo', 'wms-odoo'] }, channel: 'C0QUALITY' },
      { match: { workflow: 'cost_rollup' }, channel: 'C0FINANCE' },
    ],
    quietHours: { start: '22:00', end: '06:00', timeZone: 'Europe/Berlin' },
  },
}).slack!;

describe('routeAlert', () => {
  it('takes the first matching rule', () => {
    expect(routeAlert(lagAnomaly(), slack.routes, slack.defaultChannel)).toBe('C0PLANT2CRIT');
  });

  it('matches any value of a list', () => {
    expect(routeAlert(lagAnomaly({ severity: 'warning', integration: 'wms-odoo' }), slack.routes, slack.defaultChannel)).toBe('C0QUALITY');
  });

  it('needs the field to be set', () => {
    const event = lagAnomaly({ severity: 'info', integration: 'plm-odoo' });
    delete event.workflow;
    expect(routeAlert(event, slack.routes, slack.defaultChannel)).toBe('C0DEFAULT');
  });
});

describe('quiet hours', () => {
  const syncModes = new Map([
    ['cost_rollup', 'batch' as const],
    ['quality_hold', 'real_time' as const],
  ]);
  const syncModeOf = (workflow: string) => syncModes.get(workflow);
  // 23:30 in Berlin in December (UTC+1).
  const night = new Date('2026-12-04T22:30:00Z');
  const day = new Date('2026-12-04T10:00:00Z');

  it('spans midnight in the configured zone', () => {
    expect(isWithinQuietHours(slack.quietHours!, night)).toBe(true);
    expect(isWithinQuietHours(slack.quietHours!, new Date('2026-12-05T04:59:00Z'))).toBe(true);
    expect(isWithinQuietHours(slack.quietHours!, new Date('2026-12-05T05:00:00Z'))).toBe(false);
    expect(isWithinQuietHours(slack.quietHours!, day)).toBe(false);
  });

  it('holds non-critical batch alerts at night', () => {
    expect(isQuiet(lagAnomaly({ workflow: 'cost_rollup', severity: 'warning' }), slack.quietHours, syncModeOf, night)).toBe(true);
  });

  it('lets critical batch alerts through', () => {
    expect(isQuiet(lagAnomaly({ workflow: 'cost_rollup', severity: 'critical' }), slack.quietHours, syncModeOf, night)).toBe(false);
  });

  it('lets real-time workflows through', () => {
    expect(isQuiet(lagAnomaly({ workflow: 'quality_hold', severity: 'info' }), slack.quietHours, syncModeOf, night)).toBe(false);
  });

  it('lets batch alerts through by day', () => {
    expect(isQuiet(lagAnomaly({ workflow: 'cost_rollup', severity: 'info' }), slack.quietHours, syncModeOf, day)).toBe(false);
  });
});
