import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_EXCEPTIONS_CONFIG } from '../../../analyzer/exceptions/config.js';
import { ClassifyUsageError, runClassifyCommand } from '../../../cli/classify-command.js';

const dir = mkdtempSync(join(tmpdir(), 'syncwatch-classify-'));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeInput(name: string, lines: unknown[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n'));
  return path;
}

async function classify(input: string, requireLabels = false): Promise<{ summary: string; labels: Array<Record<string, unknown>> }> {
  const output = join(dir, `${Math.random().toString(36).slice(2)}.jsonl`);
  const summary = await runClassifyCommand({ input, output, requireLabels, exceptions: DEFAULT_EXCEPTIONS_CONFIG });
  const labels = readFileSync(output, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  return { summary, labels };
}

describe('runClassifyCommand', () => {
  it('writes one label per line', async () => {
    const input = writeInput('plain.jsonl', [
      { id: 'a', message: 'Error: read ECONNRESET', system: 'http' },
      { message: 'KeyError', exception_type: 'KeyError' },
      '',
    ]);
    const { labels, summary } = await classify(input);

    expect(labels).toHaveLength(2);
    expect(labels[0]).toMatchObject({ id: 'a', category: 'transient_network', retryable: true, action: 'retry_with_backoff', classified_by: 'rules' });
    expect(labels[1]).toMatchObject({ category: 'code_defect', retryable: false, action: 'hold_for_human' });
    expect(summary).toContain('rules only');
    expect(summary).not.toContain('category accuracy');
  });

  it('redacts templates', async () => {
    const input = writeInput('secret.jsonl', [{ message: 'login for ops@plant-2.example.com failed: password=hunter2' }]);
    const { labels } = await classify(input);

    expect(labels[0]?.template).toBe('login for <email> failed: password=<secret>');
  });

  it('scores labelled lines', async () => {
    const input = writeInput('labelled.jsonl', [
      { message: 'Error: read ECONNRESET', category: 'transient_network', retryable: true, action: 'retry_with_backoff' },
      { message: 'HTTP 429 Too Many Requests', category: 'rate_limited', retryable: true, action: 'retry_after_delay' },
      { message: 'widget went sideways', category: 'code_defect', retryable: false, action: 'hold_for_human' },
    ]);
    const { summary } = await classify(input, true);

    expect(summary).toContain('category accuracy: 2/3 (66.7%)');
    expect(summary).toContain('action accuracy: 3/3 (100.0%)');
    expect(summary).toContain('non-retryable labelled retryable: 0');
    expect(summary).toMatch(/code_defect\s+0\/1 correct, precision 0\/0; labelled unknown 1/);
  });

  it('requires labels with --labels', async () => {
    const input = writeInput('unlabelled.jsonl', [{ message: 'x' }]);
    await expect(classify(input, true)).rejects.toThrow(/line 1: --labels expects "category" and "retryable"/);
  });

  it('rejects a line without a message', async () => {
    const input = writeInput('no-message.jsonl', [{ text: 'x' }]);
    await expect(classify(input)).rejects.toThrow(ClassifyUsageError);
  });

  it('rejects an unknown category', async () => {
    const input = writeInput('bad-category.jsonl', [{ message: 'x', category: 'weird', retryable: false }]);
    await expect(classify(input)).rejects.toThrow(/invalid "category" "weird"/);
  });

  it('rejects a missing input file', async () => {
    await expect(runClassifyCommand({ input: join(dir, 'absent.jsonl'), output: join(dir, 'o.jsonl'), requireLabels: false, exceptions: DEFAULT_EXCEPTIONS_CONFIG })).rejects.toThrow(
      /input file not found/,
    );
  });

  it('keeps an existing output on a bad line', async () => {
    const input = writeInput('bad-line.jsonl', [{ message: 'Timeout' }, 'not json']);
    const output = join(dir, 'kept.jsonl');
    writeFileSync(output, '{"keep":"me"}\n');

    await expect(runClassifyCommand({ input, output, requireLabels: false, exceptions: DEFAULT_EXCEPTIONS_CONFIG })).rejects.toThrow(ClassifyUsageError);
    expect(readFileSync(output, 'utf8')).toBe('{"keep":"me"}\n');
    expect(readdirSync(dir).filter((name) => name.endsWith('.partial'))).toEqual([]);
  });

  it('rejects the input as output', async () => {
    const input = writeInput('same.jsonl', [{ message: 'Timeout' }]);

    await expect(runClassifyCommand({ input, output: input, requireLabels: false, exceptions: DEFAULT_EXCEPTIONS_CONFIG })).rejects.toThrow(/is the input file/);
    expect(readFileSync(input, 'utf8')).toBe('{"message":"Timeout"}');
  });

  it('rejects a missing output folder', async () => {
    const input = writeInput('fine.jsonl', [{ message: 'Timeout' }]);
    const output = join(dir, 'absent-folder', 'labels.jsonl');

    await expect(runClassifyCommand({ input, output, requireLabels: false, exceptions: DEFAULT_EXCEPTIONS_CONFIG })).rejects.toThrow(/output folder not found/);
  });

  it('reports an unwritable output as a usage error', async () => {
    const input = writeInput('fine2.jsonl', [{ message: 'Timeout' }]);
    const output = join(dir, 'a-folder');
    mkdirSync(join(dir, `a-folder.${process.pid}.partial`));

    await expect(runClassifyCommand({ input, output, requireLabels: false, exceptions: DEFAULT_EXCEPTIONS_CONFIG })).rejects.toThrow(/cannot write/);
  });
});
