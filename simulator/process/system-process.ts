/**
 * Entry of one system process of the demo network. The OpenTelemetry SDK
 * starts before fastify and `node:http` are loaded, so the HTTP
 * instrumentation can patch them; the rest of the process is imported after.
 */
import { SYSTEM_CONFIG_ENV, type SystemProcessConfig } from '../process-protocol.js';
import { startTelemetry } from './telemetry.js';

const rawConfig = process.env[SYSTEM_CONFIG_ENV];
if (!rawConfig) {
  console.error(`SIMULATOR_ERR_CONFIG: missing ${SYSTEM_CONFIG_ENV}; this file is started by startDemoNetwork`);
  process.exit(2);
}

const config = JSON.parse(rawConfig) as SystemProcessConfig;
const sdk = startTelemetry(config);
const { runSystemProcess } = await import('./run-system.js');
await runSystemProcess(config, sdk);
