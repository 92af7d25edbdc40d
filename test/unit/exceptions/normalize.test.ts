import { describe, expect, it } from 'vitest';
import { exceptionText, fingerprintOf, MAX_TEMPLATE_CHARS, normalizeMessage } from '../../../analyzer/exceptions/normalize.js';

describe('normalizeMessage', () => {
  it.each([
    ['ids and numbers', 'Job 4711 failed after 3 retries', 'Job <n> failed after <n> retries'],
    ['uuids', 'message 0f8fad5b-d9cb-469f-a165-70867728950e rejected', 'message <uuid> rejected'],
    ['timestamps', 'lock held since 2026-12-04T18:40:12.345Z', 'lock held since <ts>'],
    ['dates', 'posting on 2026-12-31 refused', 'posting on <date> refused'],
    ['URLs', 'GET https://shop-a.example/rest/orders/77?page=2 failed', 'GET <url> failed'],
    ['host and port', 'cannot reach mes-plant-2:5672 now', 'cannot reach <host> now'],
    ['host names', 'lookup of api.partner-a.example failed', 'lookup of <host> failed'],
    ['absolute paths', 'could not open /var/lib/odoo/filestore/db1/ab/cdef', 'could not open <path>'],
    ['hex addresses', 'object at 0x7ff7eec059e8 closed', 'object at <hex> closed'],
    ['quoted tokens', "queue 'orders-plant-2' not found", "queue '<str>' not found"],
    ['lists of ids', 'sale.order(34961, 34933, 34927)', 'sale.order(<n>, ...)'],
    ['short hex ids', 'key shipment_milestone:plant-a:5a3e4913 was already processed', 'key shipment_milestone:plant-a:<hex> was already processed'],
    ['prefixed document numbers', 'supplier confirmation of P67162 failed', 'supplier confirmation of P<n> failed'],
    ['whitespace', 'a\n\t  b', 'a b'],
  ])('replaces %s', (_case, input, expected) => {
    expect(normalizeMessage(input)).toBe(expected);
  });

  it('keeps quoted sentences', () => {
    expect(normalizeMessage("<Fault 102: 'Customer not exists.'>")).toBe("<Fault <n>: 'Customer not exists.'>");
  });

  it('keeps JSON keys', () => {
    expect(normalizeMessage('{"code":"QUOTA","id":"a1"}')).toBe('{"code":"<str>","id":"<str>"}');
  });

  it('keeps HTTP statuses and SQLSTATE codes', () => {
    expect(normalizeMessage('HTTP 503 after 30 s')).toBe('HTTP 503 after <n> s');
    expect(normalizeMessage('SQLSTATE 40001 on row 12')).toBe('SQLSTATE 40001 on row <n>');
  });

  it('replaces traceback line numbers in the 4xx range', () => {
    expect(normalizeMessage('File "x.py", line 448, in close')).toBe('File "<str>", line <n>, in close');
  });

  it('keeps redaction placeholders', () => {
    expect(normalizeMessage('mail to <email> from <ip> failed')).toBe('mail to <email> from <ip> failed');
  });

  it('does not treat Java packages as hosts', () => {
    expect(normalizeMessage('java.io.FileNotFoundException: x')).toBe('java.io.FileNotFoundException: x');
  });

  it('cuts long texts', () => {
    const template = normalizeMessage('word '.repeat(1000));
    expect(template.length).toBe(MAX_TEMPLATE_CHARS + 1);
    expect(template.endsWith('…')).toBe(true);
  });
});

describe('fingerprintOf', () => {
  it('matches texts that differ only in variable parts', () => {
    const first = fingerprintOf(normalizeMessage('Order 1001 for partner 77 timed out at 2026-12-04T10:00:00Z'));
    const second = fingerprintOf(normalizeMessage('Order 2002 for partner 81 timed out at 2026-12-05T11:30:00Z'));
    expect(first).toBe(second);
  });

  it('separates different HTTP statuses', () => {
    expect(fingerprintOf(normalizeMessage('HTTP 500 from api'))).not.toBe(fingerprintOf(normalizeMessage('HTTP 503 from api')));
  });

  it('is 16 hex digits', () => {
    expect(fingerprintOf('x')).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('exceptionText', () => {
  it('puts the type in front', () => {
    expect(exceptionText('KeyError', "'product_id'")).toBe("KeyError: 'product_id'");
  });

  it('leaves messages that name the type', () => {
    expect(exceptionText('KeyError', "KeyError: 'x'")).toBe("KeyError: 'x'");
  });

  it('leaves messages without a type', () => {
    expect(exceptionText(undefined, 'boom')).toBe('boom');
  });
});

describe('normalizeMessage statuses', () => {
  it.each([
    ['Request failed with status code 503', 'Request failed with status code 503'],
    ['429 Too Many Requests', '429 Too Many Requests'],
    ['quota: [429] exceeded', 'quota: [429] exceeded'],
  ])('keeps the status in %s', (input, expected) => {
    expect(normalizeMessage(input)).toBe(expected);
  });

  it('replaces ids in the 4xx range', () => {
    expect(normalizeMessage('bridge 450 after 3 cycles')).toBe('bridge <n> after <n> cycles');
  });
});
