import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import { listAudit } from './audit.js';
import type { ControlStore } from './control-store.js';

/** Audit rows copied per insert. */
const MIRROR_BATCH_ROWS = 5_000;

/**
 * Copies audit rows from the control plane to ClickHouse's
 * `remediation_audit`, by sequence. It starts after the highest sequence
 * ClickHouse already contains, so it keeps no state of its own and resumes
 * after a restart. A row copied twice, by a crash between insert and return,
 * is dropped by the table's ReplacingMergeTree engine when parts merge.
 */
export class AuditMirror {
  readonly #store: ControlStore;
  readonly #client: ClickHouseClient;
  readonly #logger: Logger;
  #copying: Promise<number> | undefined;
  #failures = 0;

  constructor(store: ControlStore, client: ClickHouseClient, logger: Logger) {
    this.#store = store;
    this.#client = client;
    this.#logger = logger;
  }

  /** Copies every row newer than ClickHouse's highest sequence; returns the number of rows copied. */
  copyNew(): Promise<number> {
    this.#copying ??= this.#copy().finally(() => {
      this.#copying = undefined;
    });
    return this.#copying;
  }

  async #copy(): Promise<number> {
    try {
      let after = await this.#highestMirrored();
      let copied = 0;
      for (;;) {
        const entries = await listAudit(this.#store, { afterSeq: after, limit: MIRROR_BATCH_ROWS });
        if (entries.length === 0) break;
        await this.#client.insert({
          table: 'remediation_audit',
          format: 'JSONEachRow',
          values: entries.map((entry) => ({
            seq: entry.seq,
            at: entry.at.toISOString().replace('T', ' ').replace('Z', ''),
            actor: entry.actor,
            channel: entry.channel,
            event: entry.event,
            proposal_id: entry.proposalId ?? '',
            code: entry.code ?? '',
            detail: entry.detail,
          })),
        });
        copied += entries.length;
        after = entries[entries.length - 1]?.seq ?? after;
      }
      if (this.#failures > 0) this.#logger.info({ failures: this.#failures }, 'audit mirror recovered');
      this.#failures = 0;
      return copied;
    } catch (error) {
      // Log the first failure of a run of failures, then only count them.
      if (this.#failures === 0) this.#logger.warn({ err: error }, 'audit mirror failed; retrying on the next interval');
      this.#failures += 1;
      throw error;
    }
  }

  async #highestMirrored(): Promise<number> {
    const result = await this.#client.query({ query: 'SELECT max(seq) AS seq FROM remediation_audit', format: 'JSONEachRow' });
    const rows = await result.json<{ seq: string | number }>();
    return Number(rows[0]?.seq ?? 0);
  }
}
