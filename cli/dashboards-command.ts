import { posix, resolve } from 'node:path';
import { writeDashboardFiles } from '../dashboards/index.js';

export interface DashboardsCommandOptions {
  /** `build` is the only subcommand. */
  subcommand: string | undefined;
  outDir: string | undefined;
  /**
   * Absolute path at which Grafana's container sees the output folder. The
   * dashboards provider then points at its `dashboards/` subfolder; without
   * it, the provider points at `GRAFANA_DASHBOARDS_PATH`.
   */
  grafanaPath?: string;
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
  if (options.grafanaPath !== undefined && !posix.isAbsolute(options.grafanaPath)) {
    throw new DashboardsUsageError(
      `invalid --grafana-path "${options.grafanaPath}"; expected an absolute path inside the Grafana container, such as /etc/syncwatch-grafana`,
    );
  }
  const outDir = resolve(options.outDir);
  const dashboardsPath = options.grafanaPath === undefined ? undefined : posix.join(options.grafanaPath, 'dashboards');
  const written = writeDashboardFiles(outDir, dashboardsPath);
  return [
    `wrote ${written.dashboards.length} dashboards and ${written.provisioning.length} provisioning files to ${outDir}:`,
    ...[...written.dashboards, ...written.provisioning].map((path) => `  ${path}`),
  ].join('\n');
}
