import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exceptionsConfigSchema } from '../../../analyzer/exceptions/config.js';
import { runClassifyCommand } from '../../../cli/classify-command.js';
import { startOpenAiCompatibleServer, type OpenAiCompatibleServer } from '../../support/openai-compatible-server.js';

const dir = mkdtempSync(join(tmpdir(), 'syncwatch-classify-llm-'));
let server: OpenAiCompatibleServer;

beforeAll(async () => {
  server = await startOpenAiCompatibleServer();
  server.defaultReply = () => ({ kind: 'answer', content: { category: 'partner_unavailable', retryable: true, confidence: 0.7, rationale: 'partner side' } });
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('classify with a model endpoint', () => {
  it('labels 10,000 lines of 50 errors with at most 50 calls', async () => {
    const lines: string[] = [];
    for (let index = 0; index < 10_000; index += 1) {
      const kind = index % 50;
      const word = `m${String.fromCharCode(97 + (kind % 26))}${String.fromCharCode(97 + Math.floor(kind / 26))}`;
      lines.push(JSON.stringify({ id: String(index), system: 'mes', message: `Conveyor ${word} refused pallet ${index} at dock ${index % 9}` }));
    }
    lines.push(JSON.stringify({ id: 'rule', message: 'Error: read ECONNRESET' }));
    const input = join(dir, 'many.jsonl');
    const output = join(dir, 'many-labels.jsonl');
    writeFileSync(input, `${lines.join('\n')}\n`);
    const exceptions = exceptionsConfigSchema.parse({ llm: { baseUrl: server.baseUrl, model: 'test-model', timeout: '2s', backoff: '5ms' } });

    const summary = await runClassifyCommand({ input, output, requireLabels: false, exceptions, logger: pino({ level: 'silent' }) });
    const labels = readFileSync(output, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { classified_by: string; category: string });

    expect(summary).toContain('classified 10001 rows into 51 fingerprints');
    expect(server.requests.length).toBeLessThanOrEqual(50);
    expect(labels.filter((label) => label.classified_by === 'llm')).toHaveLength(10_000);
    expect(labels.at(-1)?.category).toBe('transient_network');
  });
});
