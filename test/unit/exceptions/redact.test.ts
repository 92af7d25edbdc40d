import { describe, expect, it } from 'vitest';
import { createRedactor } from '../../../analyzer/exceptions/redact.js';
import { ExceptionClassifier, MAX_EXCEPTION_TEXT_CHARS } from '../../../analyzer/exceptions/classifier.js';

const redact = createRedactor({ names: ['Anna Schmidt', 'Acme Tools'] });

describe('createRedactor', () => {
  it.each([
    ['bearer tokens', 'Authorization: Bearer abcdefghijklmnop123', 'Authorization: Bearer <token>'],
    ['JSON web tokens', 'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig_part-1', 'token <token>'],
    ['vendor keys', 'key sk-proj-ABCDEFGHIJKLMNOPQRST1234 rejected', 'key <token> rejected'],
    ['AWS keys', 'AKIAABCDEFGHIJKLMNOP denied', '<token> denied'],
    ['api_key parameters', 'GET /orders?api_key=s3cr3tvalue&page=2', 'GET /orders?api_key=<secret>&page=2'],
    ['JSON passwords', '{"password": "hunter2", "user": "x"}', '{"password": "<secret>", "user": "x"}'],
    ['passwords in URLs', 'amqp://odoo:Pa55word@broker-a:5672/ refused', 'amqp://odoo:<secret>@broker-a:5672/ refused'],
    ['e-mail addresses', 'mail to qa.lead@plant-2.example.com bounced', 'mail to <email> bounced'],
    ['IPv4 addresses', 'connect to 10.20.30.40:5432 refused', 'connect to <ip>:5432 refused'],
    ['IPv6 addresses', 'connect to fe80::1ff:fe23:4567:890a refused', 'connect to <ip> refused'],
    ['international phone numbers', 'call +49 170 1234567 now', 'call <phone> now'],
    ['labelled phone numbers', 'phone: 0170 123 4567', 'phone: <phone>'],
    ['configured names', 'Delivery for ACME TOOLS approved by Anna Schmidt', 'Delivery for <name> approved by <name>'],
    ['opaque keys', 'session a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7 expired', 'session <token> expired'],
  ])('hides %s', (_case, input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it('keeps times, versions and plain words', () => {
    const text = 'At 12:30:45 worker odoo-16 raised KeyError in stock.move';
    expect(redact(text)).toBe(text);
  });

  it('keeps dates', () => {
    expect(redact('Lock To Date (31/12/2024) and 2024-12-31')).toBe('Lock To Date (31/12/2024) and 2024-12-31');
  });

  it('keeps broker node names', () => {
    expect(redact("alarm set on node 'rabbit@host-a'")).toBe("alarm set on node 'rabbit@host-a'");
  });

  it('works without names', () => {
    expect(createRedactor()('plain text')).toBe('plain text');
  });
});

describe('redaction gaps', () => {
  const redact = createRedactor({ names: ['Anna Schmidt'] });

  it('hides base64 secret keys', () => {
    expect(redact('aws key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY failed')).toBe('aws key <token> failed');
  });

  it('hides pass= values', () => {
    expect(redact('login pass=hunter2 denied')).toBe('login pass=<secret> denied');
  });

  it('hides names across any whitespace', () => {
    expect(redact('by Anna  Schmidt and Anna\nSchmidt')).toBe('by <name> and <name>');
  });

  it('keeps absolute paths readable', () => {
    expect(redact('could not open /var/lib/odoo/filestore/db1/ab/cdef')).toBe('could not open /var/lib/odoo/filestore/db1/ab/cdef');
  });

  it('redacts a long line without an address', () => {
    const line = `${'x'.repeat(400_000)} mail ops@plant.example`;
    expect(redact(line).endsWith('mail <email>')).toBe(true);
  });
});

describe('ExceptionClassifier.prepare', () => {
  it('cuts texts longer than the limit', () => {
    const prepared = new ExceptionClassifier().prepare({ message: `Timeout ${'y'.repeat(100_000)}` });
    expect(prepared.redacted.length).toBeLessThanOrEqual(MAX_EXCEPTION_TEXT_CHARS);
  });
});
