import { EXCEPTION_CATEGORIES } from './taxonomy.js';

/**
 * Removal of instruction-like sentences from exception texts. Error texts
 * come from partner systems and message payloads, so anyone who can make a
 * system fail can write into them. Some sentences address a classifier or an
 * approver: ignore the rules, mark as retryable, approve or requeue
 * everything, reveal the prompt. They carry no information about the error,
 * so rules never see them, and a text that contained them is not sent to a
 * model.
 *
 * NOTE: these patterns catch common phrasings only. Labels are enum values and
 * allowed actions depend on category and retryable alone, and that is what keeps
 * a hostile text from widening remediation. This filter is one layer before it.
 */

/** Taxonomy labels with an underscore, which ordinary error texts do not contain. */
const LABEL_WORDS = EXCEPTION_CATEGORIES.filter((category) => category.includes('_')).join('|');

const INSTRUCTION_PATTERNS: readonly RegExp[] = [
  /\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,60}\b(?:instructions?|rules?|prompts?|guidelines|polic(?:y|ies)|above|previous|prior|earlier)\b/i,
  new RegExp(`\\b(?:${LABEL_WORDS})\\b|\\bretryable\\b|\\bsafe to (?:retry|requeue|replay)\\b`, 'i'),
  /\b(?:change|set|switch|update|make)\b[^.\n]{0,20}\b(?:category|label|classification|severity)\s+(?:to|=)\s/i,
  /\b(?:approve|auto-?approve)\b[^.\n]{0,40}\b(?:all|every\w*|this (?:proposal|request|remediation|action|fix)|proposals?|remediations?|immediately|now|automatically)\b/i,
  /\b(?:pre-?approved|approval (?:is )?(?:granted|given))\b/i,
  /\b(?:requeue|re-queue|replay|republish|purge)\b[^.\n]{0,40}\b(?:all|every\w*|entire|whole|immediately|without)\b/i,
  /\b(?:retry|resend|re-?run)\b[^.\n]{0,30}\b(?:all|everything|every (?:job|message|order|event)|without (?:review|approval|asking))\b/i,
  /\b(?:reveal|print|show|repeat|output|leak|tell me|dump|disclose)\b[^.\n]{0,40}\b(?:system prompt|prompt|instructions|api key|secret)\b/i,
  /\b(?:you are now|you are an? (?:ai|assistant|model|classifier|language model)|act as an?|pretend to be|as an ai|new instructions|developer mode|jailbreak)\b/i,
  /<\|im_(?:start|end)\|>|<\/?(?:system|assistant|instructions?)>|\[\/?(?:system|INST)\]/i,
  // The prompt's own marker name, which only a text that tries to close its block would contain.
  /ERROR_TEXT_/,
];

export interface StrippedText {
  text: string;
  /** Sentences removed because they read as instructions. */
  removed: number;
}

/** Returns the text without sentences that read as instructions, and how many it removed. */
export function stripInstructions(text: string): StrippedText {
  // Sentences end at a line break, or at whitespace after ., !, ?, or a closing bracket or tag; the separators are kept.
  const parts = text.split(/((?<=[.!?}\]>])\s+|\n+)/);
  let removed = 0;
  const kept: string[] = [];
  for (let index = 0; index < parts.length; index += 2) {
    const sentence = parts[index] ?? '';
    const separator = parts[index + 1] ?? '';
    if (sentence.trim() !== '' && INSTRUCTION_PATTERNS.some((pattern) => pattern.test(sentence))) {
      removed += 1;
      continue;
    }
    kept.push(sentence + separator);
  }
  return { text: removed === 0 ? text : kept.join('').trim(), removed };
}
