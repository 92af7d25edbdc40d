import { resolve } from 'node:path';
import { writeDashboardFiles } from '../dashboards/index.js';

export interface DashboardsCommandOptions {
  /** `build` is the only subcommand. */
  subcommand: string | undefined;
  outDir: string | undefined;
}

/** Raised for a missing or unknown subcommand or a missing `--out`; main prints it as a usage error. */
export class DashboardsUsageError extends Error {}

/** Runs `syncwatch dashboards build --out DIR` and returns the lines to print. */
export function runDashboardsCommand(options: DashboardsCommandOptions): string {
  if (options.subcommand !== 'build') {
    throw new DashboardsUsageError(
      `unknown dashboards subcommand "${options.subcommand ?? ''}"; expected: syncwatch dashboards build --out DIR`,
    );
  }
  if (!options.outDir) {
    throw new DashboardsUsageError('dashboards build needs --out DIR, the folder to write the JSON and provisioning files to');
  }
  const outDir = resolve(options.outDir);
  const written = writeDashboardFiles(outDir);
  return [
    `wrote ${written.dashboards.length} dashboards and ${written.provisioning.length} provisioning files to ${outDir}:`,
    ...[...written.dashboards, ...written.provisioning].map((path) => `  ${path}`),
  ].join('\n');
}
