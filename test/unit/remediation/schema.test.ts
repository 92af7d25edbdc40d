import { describe, expect, it } from 'vitest';
import { CONTROL_MIGRATIONS, splitStatements } from '../../../remediation/schema.js';

describe('splitStatements', () => {
  it('keeps function bodies whole', () => {
    const statements = splitStatements(`CREATE TABLE a (x int);
-- a comment;
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'no';
END
$$;
CREATE TRIGGER t BEFORE DELETE ON a FOR EACH ROW EXECUTE FUNCTION f();`);

    expect(statements).toHaveLength(3);
    expect(statements[1]).toContain("RAISE EXCEPTION 'no';\nEND\n$$;");
  });
});

describe('CONTROL_MIGRATIONS', () => {
  it('has unique ascending versions', () => {
    const versions = CONTROL_MIGRATIONS.map((migration) => migration.version);
    expect(versions).toEqual([...new Set(versions)].sort((a, b) => a - b));
  });
});
