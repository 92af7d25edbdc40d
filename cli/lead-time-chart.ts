import type { EvaluationScore } from '../analyzer/prediction/index.js';

const ROW_HEIGHT = 34;
const LABEL_WIDTH = 170;
const PLOT_WIDTH = 520;
const TOP = 40;
const BOTTOM = 40;
const MODEL_COLOR = '#1f77b4';
const STATIC_COLOR = '#ff7f0e';

/**
 * Draws the lead time of every detected breach run as a dot, one row per
 * scenario, the model's above the static threshold alert's, as a
 * self-contained SVG document.
 */
export function renderLeadTimeChart(
  byKind: Readonly<Record<string, { model: EvaluationScore; staticThreshold: EvaluationScore }>>,
  title: string,
): string {
  const kinds = Object.keys(byKind);
  const allLeads = kinds.flatMap((kind) => [...byKind[kind]!.model.leadMinutes, ...byKind[kind]!.staticThreshold.leadMinutes]);
  const maxMinutes = Math.max(10, Math.ceil(Math.max(0, ...allLeads) / 5) * 5);
  const height = TOP + kinds.length * ROW_HEIGHT + BOTTOM;
  const width = LABEL_WIDTH + PLOT_WIDTH + 30;
  const x = (minutes: number) => LABEL_WIDTH + (minutes / maxMinutes) * PLOT_WIDTH;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${LABEL_WIDTH}" y="18" font-size="13">${escapeXml(title)}</text>`,
    `<circle cx="${LABEL_WIDTH + 330}" cy="30" r="4" fill="${MODEL_COLOR}"/><text x="${LABEL_WIDTH + 338}" y="34">prediction model</text>`,
    `<circle cx="${LABEL_WIDTH + 450}" cy="30" r="4" fill="${STATIC_COLOR}"/><text x="${LABEL_WIDTH + 458}" y="34">static threshold</text>`,
  ];
  for (let minutes = 0; minutes <= maxMinutes; minutes += 5) {
    parts.push(
      `<line x1="${x(minutes)}" y1="${TOP}" x2="${x(minutes)}" y2="${height - BOTTOM}" stroke="#ddd"/>`,
      `<text x="${x(minutes)}" y="${height - BOTTOM + 16}" text-anchor="middle">${minutes}</text>`,
    );
  }
  parts.push(`<text x="${LABEL_WIDTH + PLOT_WIDTH / 2}" y="${height - 8}" text-anchor="middle">lead time before the breach (minutes)</text>`);

  kinds.forEach((kind, row) => {
    const middle = TOP + row * ROW_HEIGHT + ROW_HEIGHT / 2;
    const scores = byKind[kind]!;
    parts.push(`<text x="8" y="${middle + 4}">${escapeXml(kind)}</text>`);
    for (const lead of scores.model.leadMinutes) {
      parts.push(`<circle cx="${x(lead).toFixed(1)}" cy="${middle - 6}" r="3.5" fill="${MODEL_COLOR}" fill-opacity="0.6"/>`);
    }
    for (const lead of scores.staticThreshold.leadMinutes) {
      parts.push(`<circle cx="${x(lead).toFixed(1)}" cy="${middle + 6}" r="3.5" fill="${STATIC_COLOR}" fill-opacity="0.6"/>`);
    }
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
