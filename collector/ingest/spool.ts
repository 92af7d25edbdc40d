import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createCollectorError } from '../errors.js';
import { DEFAULT_INSERT_FORMAT, type InsertFormat } from './insert-batch.js';
import {
  encodeSpoolRecord,
  measureEncodedRecord,
  readDeclaredRowCount,
  readSpoolRecord,
  RECORD_HEADER_BYTES,
  type SpoolRecord,
} from './spool-record.js';

/** Default limit on the bytes a spool holds on disk: 1 GiB per table. */
export const MAX_SPOOL_BYTES = 1024 * 1024 * 1024;

/** A segment file takes no more records once it reaches this size: 64 MiB. */
export const SEGMENT_MAX_BYTES = 64 * 1024 * 1024;

/** Bodies of recent records kept in memory so the replay need not read them back: 64 MiB. */
export const SPOOL_CACHE_MAX_BYTES = 64 * 1024 * 1024;

/** `Retry-After` sent when the spool is full. */
export const SPOOL_FULL_RETRY_AFTER_SECONDS = 5;

/** `Retry-After` sent when a spool write fails, for example with the disk full. */
export const SPOOL_WRITE_FAILED_RETRY_AFTER_SECONDS = 10;

/** Segment files are named by a zero-padded sequence number, so names sort in write order. */
const SEGMENT_FILE_PATTERN = /^(\d{16})\.spool$/;

/** Holds the position of the first record not yet replayed. */
const CHECKPOINT_FILE = 'replay-position.json';

/** Opens files for the spool. Tests pass a wrapper that injects faults. */
export type OpenSpoolFile = (path: string, flags: string) => Promise<FileHandle>;

export interface SpoolOptions {
  /** Directory of this spool's segment files, created when missing. */
  directory: string;
  /** Table the spooled rows belong to, for error messages and logs. */
  table: string;
  /** Default `MAX_SPOOL_BYTES`. */
  maxBytes?: number;
  /** Default `SEGMENT_MAX_BYTES`. */
  segmentMaxBytes?: number;
  /** Default `SPOOL_CACHE_MAX_BYTES`. */
  cacheMaxBytes?: number;
  logger?: Logger;
  /** Default: `open` from node:fs/promises. */
  openFile?: OpenSpoolFile;
}

/** A record waiting in the spool to be replayed. */
export interface SpooledBatch {
  readonly batchId: string;
  readonly rowCount: number;
  readonly format: InsertFormat;
  readonly segment: number;
  readonly offset: number;
  /** Record size on disk, header included. */
  readonly byteLength: number;
}

/** Records found unreadable when the spool was opened, dropped from the replay. */
export interface SpoolOpenReport {
  discardedBytes: number;
  /** Rows of unreadable records whose header could still be read; 0 when none could. */
  discardedRows: number;
}

/**
 * An append-only store of batches on disk. Each record is framed with its
 * length and CRC-32. `append` resolves only after the record and every
 * record written with it are on disk (one `fdatasync` per group of appends
 * that arrive while the previous group is being written).
 */
export interface Spool {
  /** Bytes of records not yet replayed. */
  readonly pendingBytes: number;
  readonly pendingBatches: number;
  /** Bytes and rows that `openSpool` dropped as torn or corrupt. */
  readonly openReport: SpoolOpenReport;
  /**
   * Appends `record` and resolves once it is synced to disk. Rejects with
   * `COLLECTOR_ERR_SPOOL_FULL` past `maxBytes` and with
   * `COLLECTOR_ERR_SPOOL_WRITE_FAILED` when the write or sync fails; in both
   * cases the record is not stored.
   */
  append(record: SpoolRecord): Promise<void>;
  /** Returns the record `position` places after the oldest record not yet replayed, by default the oldest itself. */
  peek(position?: number): SpooledBatch | undefined;
  /** Reads the body of a pending record, from memory when still cached. Throws when the record fails its CRC. */
  readBody(batch: SpooledBatch): Promise<Buffer>;
  /** Marks the oldest record replayed, and deletes its segment once every record in it is. */
  removeOldest(): Promise<void>;
  /** Waits for writes in progress and closes the files. Appends after `close` reject. */
  close(): Promise<void>;
}

interface PendingEntry extends SpooledBatch {
  body: Buffer | undefined;
}

interface QueuedAppend {
  record: SpoolRecord;
  buffers: Buffer[];
  byteLength: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface ActiveSegment {
  sequence: number;
  handle: FileHandle;
  size: number;
}

/**
 * Opens the spool in `options.directory`: scans every segment, truncates a
 * torn or corrupt tail (a crash in the middle of a write leaves one), skips
 * records the checkpoint marks as replayed, and starts a new segment for
 * appends.
 */
export async function openSpool(options: SpoolOptions): Promise<Spool> {
  const openFile = options.openFile ?? ((path: string, flags: string) => open(path, flags));
  await mkdir(options.directory, { recursive: true });
  const checkpoint = await readCheckpoint(options.directory);
  const sequences = await listSegments(options.directory);
  const entries: PendingEntry[] = [];
  const report: SpoolOpenReport = { discardedBytes: 0, discardedRows: 0 };

  for (const sequence of sequences) {
    if (sequence < checkpoint.segment) {
      await unlink(join(options.directory, formatSegmentName(sequence)));
      continue;
    }
    const startOffset = sequence === checkpoint.segment ? checkpoint.offset : 0;
    await scanSegment(options, openFile, sequence, startOffset, entries, report);
  }

  const nextSequence = (sequences.at(-1) ?? 0) + 1;
  const active = await createSegment(options.directory, openFile, nextSequence);
  return new FileSpool(options, openFile, entries, active, report);
}

class FileSpool implements Spool {
  readonly openReport: SpoolOpenReport;
  readonly #options: SpoolOptions;
  readonly #openFile: OpenSpoolFile;
  readonly #maxBytes: number;
  readonly #segmentMaxBytes: number;
  readonly #cacheMaxBytes: number;
  readonly #entries: PendingEntry[];
  #pendingBytes: number;
  #reservedBytes = 0;
  #cacheBytes = 0;
  #active: ActiveSegment;
  /** Set after a failed write, so the next write starts a fresh segment. */
  #activeBroken = false;
  #queue: QueuedAppend[] = [];
  #writing: Promise<void> | undefined;
  #closed = false;

  constructor(
    options: SpoolOptions,
    openFile: OpenSpoolFile,
    entries: PendingEntry[],
    active: ActiveSegment,
    report: SpoolOpenReport,
  ) {
    this.#options = options;
    this.#openFile = openFile;
    this.#maxBytes = options.maxBytes ?? MAX_SPOOL_BYTES;
    this.#segmentMaxBytes = options.segmentMaxBytes ?? SEGMENT_MAX_BYTES;
    this.#cacheMaxBytes = options.cacheMaxBytes ?? SPOOL_CACHE_MAX_BYTES;
    this.#entries = entries;
    this.#pendingBytes = entries.reduce((total, entry) => total + entry.byteLength, 0);
    this.#active = active;
    this.openReport = report;
  }

  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  get pendingBatches(): number {
    return this.#entries.length;
  }

  append(record: SpoolRecord): Promise<void> {
    if (this.#closed) {
      return Promise.reject(this.#createWriteError(record, new Error('the spool is closed')));
    }
    const buffers = encodeSpoolRecord(record);
    const byteLength = measureEncodedRecord(buffers);
    const usedBytes = this.#pendingBytes + this.#reservedBytes;
    if (usedBytes + byteLength > this.#maxBytes) {
      return Promise.reject(
        createCollectorError(
          'spoolFull',
          {
            table: this.#options.table,
            spoolBytes: usedBytes,
            recordBytes: byteLength,
            maxSpoolBytes: this.#maxBytes,
            retryAfterSeconds: SPOOL_FULL_RETRY_AFTER_SECONDS,
          },
          { retryAfterSeconds: SPOOL_FULL_RETRY_AFTER_SECONDS },
        ),
      );
    }

    this.#reservedBytes += byteLength;
    const appended = new Promise<void>((resolve, reject) => {
      this.#queue.push({ record, buffers, byteLength, resolve, reject });
    });
    // Starting after the current task lets appends made in the same task share one write and sync.
    this.#writing ??= Promise.resolve().then(() => this.#writeQueued());
    return appended;
  }

  peek(position = 0): SpooledBatch | undefined {
    return this.#entries[position];
  }

  async readBody(batch: SpooledBatch): Promise<Buffer> {
    const entry = batch as PendingEntry;
    if (entry.body) return entry.body;

    const path = join(this.#options.directory, formatSegmentName(entry.segment));
    const handle = entry.segment === this.#active.sequence ? this.#active.handle : await this.#openFile(path, 'r');
    try {
      const data = Buffer.allocUnsafe(entry.byteLength);
      const { bytesRead } = await handle.read(data, 0, entry.byteLength, entry.offset);
      const result = readSpoolRecord(data.subarray(0, bytesRead), 0);
      if (result.kind !== 'record') {
        const reason = result.kind === 'corrupt' ? result.reason : 'the record ends early';
        throw new Error(`spool record ${entry.batchId} at ${path}:${entry.offset} is unreadable: ${reason}`);
      }
      return result.record.body;
    } finally {
      if (handle !== this.#active.handle) await handle.close();
    }
  }

  async removeOldest(): Promise<void> {
    const entry = this.#entries.shift();
    if (!entry) return;
    this.#pendingBytes -= entry.byteLength;
    if (entry.body) this.#cacheBytes -= entry.body.length;

    const next = this.#entries[0];
    const checkpoint = { segment: next?.segment ?? entry.segment, offset: next?.offset ?? entry.offset + entry.byteLength };
    try {
      await writeCheckpoint(this.#options.directory, checkpoint);
    } catch (error) {
      // An old checkpoint only makes the next start replay records again, which their tokens make harmless.
      this.#options.logger?.warn({ err: error, table: this.#options.table }, 'spool checkpoint write failed');
    }
    const segmentDone = next === undefined || next.segment !== entry.segment;
    if (segmentDone && entry.segment !== this.#active.sequence) {
      await unlink(join(this.#options.directory, formatSegmentName(entry.segment))).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writing;
    await this.#active.handle.close().catch(() => undefined);
    if (this.#active.size === 0) {
      await unlink(join(this.#options.directory, formatSegmentName(this.#active.sequence))).catch(() => undefined);
    }
  }

  /** Writes queued appends in groups, one write and one sync per group, until the queue is empty. */
  async #writeQueued(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#queue;
      this.#queue = [];
      await this.#writeGroup(group);
    }
    this.#writing = undefined;
  }

  async #writeGroup(group: QueuedAppend[]): Promise<void> {
    const groupBytes = group.reduce((total, item) => total + item.byteLength, 0);
    let startOffset = 0;
    try {
      await this.#ensureWritableSegment(groupBytes);
      startOffset = this.#active.size;
      await writeFully(this.#active.handle, group.flatMap((item) => item.buffers), startOffset);
      await this.#active.handle.datasync();
    } catch (error) {
      await this.#abandonFailedWrite(startOffset, error);
      for (const item of group) {
        this.#reservedBytes -= item.byteLength;
        item.reject(this.#createWriteError(item.record, error));
      }
      return;
    }

    let offset = startOffset;
    for (const item of group) {
      this.#reservedBytes -= item.byteLength;
      this.#pendingBytes += item.byteLength;
      this.#entries.push(this.#createEntry(item, offset));
      offset += item.byteLength;
      item.resolve();
    }
    this.#active.size = offset;
  }

  #createEntry(item: QueuedAppend, offset: number): PendingEntry {
    const { body } = item.record;
    const cached = this.#cacheBytes + body.length <= this.#cacheMaxBytes;
    if (cached) this.#cacheBytes += body.length;
    return {
      batchId: item.record.batchId,
      rowCount: item.record.rowCount,
      format: item.record.format ?? DEFAULT_INSERT_FORMAT,
      segment: this.#active.sequence,
      offset,
      byteLength: item.byteLength,
      body: cached ? body : undefined,
    };
  }

  /** Starts a new segment when the current one is full or was left broken by a failed write. */
  async #ensureWritableSegment(groupBytes: number): Promise<void> {
    const full = this.#active.size > 0 && this.#active.size + groupBytes > this.#segmentMaxBytes;
    if (!full && !this.#activeBroken) return;
    const previous = this.#active;
    this.#active = await createSegment(this.#options.directory, this.#openFile, previous.sequence + 1);
    this.#activeBroken = false;
    await previous.handle.close().catch(() => undefined);
    if (previous.size === 0) {
      await unlink(join(this.#options.directory, formatSegmentName(previous.sequence))).catch(() => undefined);
    }
  }

  /**
   * Cuts a failed write off the segment so no partial record sits before
   * later ones. After a failed sync the kernel may have dropped the dirty
   * pages, so the segment is retired either way and the next write starts a
   * new one.
   */
  async #abandonFailedWrite(startOffset: number, error: unknown): Promise<void> {
    this.#activeBroken = true;
    try {
      await this.#active.handle.truncate(startOffset);
    } catch (truncateError) {
      this.#options.logger?.error(
        { err: truncateError, table: this.#options.table, segment: this.#active.sequence },
        'spool segment truncate failed',
      );
    }
    this.#options.logger?.error({ err: error, table: this.#options.table }, 'spool write failed');
  }

  #createWriteError(record: SpoolRecord, error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    return createCollectorError(
      'spoolWriteFailed',
      {
        table: this.#options.table,
        rows: record.rowCount,
        reason,
        retryAfterSeconds: SPOOL_WRITE_FAILED_RETRY_AFTER_SECONDS,
      },
      { cause: error, retryAfterSeconds: SPOOL_WRITE_FAILED_RETRY_AFTER_SECONDS },
    );
  }
}

/**
 * Reads the records of one segment from `startOffset` into `entries`. A
 * record that fails its CRC but whose length leads to a valid record or to
 * the end of the file is skipped alone. Any other bad record ends the
 * segment: the file is truncated there, because the bytes after it cannot be
 * framed. A crash in the middle of a write leaves such a torn tail.
 */
async function scanSegment(
  options: SpoolOptions,
  openFile: OpenSpoolFile,
  sequence: number,
  startOffset: number,
  entries: PendingEntry[],
  report: SpoolOpenReport,
): Promise<void> {
  const path = join(options.directory, formatSegmentName(sequence));
  const data = await readFile(path);
  let offset = startOffset;
  let records = 0;
  while (offset < data.length) {
    const result = readSpoolRecord(data, offset);
    if (result.kind === 'record') {
      const { record, byteLength } = result;
      entries.push({
        batchId: record.batchId,
        rowCount: record.rowCount,
        format: record.format ?? DEFAULT_INSERT_FORMAT,
        segment: sequence,
        offset,
        byteLength,
        body: undefined,
      });
      offset += byteLength;
      records++;
      continue;
    }

    const reason = result.kind === 'corrupt' ? result.reason : 'the last record ends early';
    const skipTo = result.kind === 'corrupt' ? findNextRecordOffset(data, offset) : undefined;
    const discardedBytes = (skipTo ?? data.length) - offset;
    report.discardedBytes += discardedBytes;
    report.discardedRows += readDeclaredRowCount(data, offset);
    options.logger?.warn({ table: options.table, segment: path, offset, discardedBytes, reason }, 'spool record discarded');
    if (skipTo === undefined) {
      await truncateFile(openFile, path, offset);
      break;
    }
    offset = skipTo;
  }
  if (records === 0) await unlink(path);
}

/**
 * Returns the offset of the record after a corrupt one at `offset`. This is
 * known only when the corrupt record's declared length leads exactly to the
 * end of the data or to a record that passes its checks, so otherwise the
 * result is undefined.
 */
function findNextRecordOffset(data: Buffer, offset: number): number | undefined {
  const next = offset + RECORD_HEADER_BYTES + data.readUInt32LE(offset);
  if (next === data.length) return next;
  if (next > data.length) return undefined;
  return readSpoolRecord(data, next).kind === 'record' ? next : undefined;
}

/**
 * Writes every byte of `buffers` at `position`. One `writev` can write less
 * than asked, for example past the system's limit on buffers per call, so
 * the rest is written by further calls.
 */
async function writeFully(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let remaining = buffers;
  let offset = position;
  while (remaining.length > 0) {
    const { bytesWritten } = await handle.writev(remaining, offset);
    if (bytesWritten === 0) throw new Error(`writev wrote no bytes at offset ${offset}`);
    offset += bytesWritten;
    remaining = dropWrittenBytes(remaining, bytesWritten);
  }
}

/** Returns the buffers left after the first `count` bytes, cutting the buffer they end in. */
function dropWrittenBytes(buffers: Buffer[], count: number): Buffer[] {
  let left = count;
  let index = 0;
  while (index < buffers.length && left >= (buffers[index] as Buffer).length) {
    left -= (buffers[index] as Buffer).length;
    index++;
  }
  const rest = buffers.slice(index);
  if (left > 0 && rest.length > 0) rest[0] = (rest[0] as Buffer).subarray(left);
  return rest;
}

async function truncateFile(openFile: OpenSpoolFile, path: string, length: number): Promise<void> {
  const handle = await openFile(path, 'r+');
  try {
    await handle.truncate(length);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

async function createSegment(directory: string, openFile: OpenSpoolFile, sequence: number): Promise<ActiveSegment> {
  const handle = await openFile(join(directory, formatSegmentName(sequence)), 'wx+');
  await syncDirectory(directory);
  return { sequence, handle, size: 0 };
}

/** Syncs a directory so a file just created in it survives a crash. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function listSegments(directory: string): Promise<number[]> {
  const names = await readdir(directory);
  return names
    .map((name) => SEGMENT_FILE_PATTERN.exec(name)?.[1])
    .filter((sequence): sequence is string => sequence !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

function formatSegmentName(sequence: number): string {
  return `${String(sequence).padStart(16, '0')}.spool`;
}

interface Checkpoint {
  segment: number;
  offset: number;
}

/**
 * Reads the replay position. A missing or unreadable file means nothing is
 * known to be replayed, so every record is replayed again, which the
 * deduplication tokens make harmless.
 */
async function readCheckpoint(directory: string): Promise<Checkpoint> {
  try {
    const parsed = JSON.parse(await readFile(join(directory, CHECKPOINT_FILE), 'utf8')) as Partial<Checkpoint>;
    if (Number.isSafeInteger(parsed.segment) && Number.isSafeInteger(parsed.offset)) {
      return { segment: parsed.segment as number, offset: parsed.offset as number };
    }
  } catch {
    // Fall through to the start of the spool.
  }
  return { segment: 0, offset: 0 };
}

/**
 * Replaces the checkpoint file through a rename, so a crash leaves the old or
 * the new position. It is not synced: losing the latest position only
 * replays records again.
 */
async function writeCheckpoint(directory: string, checkpoint: Checkpoint): Promise<void> {
  const path = join(directory, CHECKPOINT_FILE);
  const temporaryPath = `${path}.tmp`;
  await writeFile(temporaryPath, JSON.stringify(checkpoint));
  await rename(temporaryPath, path);
}
