import type { Logger } from 'pino';
import { stripInstructions } from './injection.js';
import type { LlmClassifier } from './llm.js';
import { exceptionText, fingerprintOf, normalizeMessage } from './normalize.js';
import { createRedactor, type Redactor } from './redact.js';
import { classifyByRules, unknownClassification } from './rules.js';
import type { ExceptionClassification } from './taxonomy.js';

/** One exception as read from a span event, a failed job or an input file. */
export interface ExceptionOccurrence {
  message: string;
  exceptionType?: string;
  /** System that raised it, such as odoo, postgres or rabbitmq. */
  system?: string;
}

/**
 * Characters of an exception text that are redacted, fingerprinted and
 * labelled. Longer texts (a whole HTML error page, a dump) are cut first, so
 * one huge message costs no more than this.
 */
export const MAX_EXCEPTION_TEXT_CHARS = 16_384;

/** An occurrence after redaction and normalization. */
export interface PreparedException {
  /** The redacted text, with the exception type in front when the message does not name it. */
  redacted: string;
  template: string;
  fingerprint: string;
  system?: string;
}

export interface ExceptionClassifierOptions {
  /** Names to redact, from `analyzer.exceptions.redact.names`. */
  redactNames?: readonly string[];
  /** Model classifier for what no rule matches; absent means rules only. */
  llm?: LlmClassifier;
  logger?: Logger;
}

/**
 * Redacts, fingerprints and labels exceptions: deterministic rules first, then
 * the model when one is configured and available, else `unknown`.
 */
export class ExceptionClassifier {
  readonly redact: Redactor;
  readonly llm: LlmClassifier | undefined;
  private readonly logger: Logger | undefined;

  constructor(options: ExceptionClassifierOptions = {}) {
    this.redact = createRedactor({ names: options.redactNames ?? [] });
    this.llm = options.llm;
    this.logger = options.logger;
  }

  prepare(occurrence: ExceptionOccurrence): PreparedException {
    // NOTE: a secret that straddles the cut keeps the part before it unless that part still matches a pattern.
    const text = exceptionText(occurrence.exceptionType, occurrence.message).slice(0, MAX_EXCEPTION_TEXT_CHARS);
    const redacted = this.redact(text);
    const template = normalizeMessage(redacted);
    return { redacted, template, fingerprint: fingerprintOf(template), system: occurrence.system };
  }

  /**
   * Labels a prepared exception. Instruction-like sentences are removed
   * first, and a text that contained any is labelled by rules only.
   */
  async classify(prepared: PreparedException): Promise<ExceptionClassification> {
    return (await this.label(prepared)).classification;
  }

  /**
   * Labels a prepared exception and reports whether the label is final. A label
   * is provisional when a model is configured but gave no label (budget
   * spent, breaker open, endpoint failing), so a later try may do better.
   */
  async label(prepared: PreparedException): Promise<{ classification: ExceptionClassification; final: boolean }> {
    const stripped = stripInstructions(prepared.redacted);
    const byRules = classifyByRules({ text: stripped.text, system: prepared.system });
    if (byRules) return { classification: byRules, final: true };
    if (stripped.removed > 0) {
      this.logger?.warn({ fingerprint: prepared.fingerprint, removedSentences: stripped.removed }, 'exception text contains instructions; labelled by rules only');
      return { classification: unknownClassification('no rule matched; the text contains instructions, so it was not sent to the model'), final: true };
    }
    if (!this.llm) return { classification: unknownClassification('no rule matched'), final: true };

    const result = await this.llm.classify(prepared.fingerprint, { text: stripped.text, system: prepared.system });
    if (result.ok) return { classification: result.classification, final: true };
    this.logger?.debug({ fingerprint: prepared.fingerprint, reason: result.reason }, 'no model label; exception stays unknown for now');
    const retryLater = result.reason !== 'malformed_answer' && result.reason !== 'invalid_answer';
    return { classification: unknownClassification(`no rule matched; no model label (${result.reason})`), final: !retryLater };
  }
}
