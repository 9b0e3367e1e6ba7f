// Text widths for Vega's layout in Node, where it has no canvas to measure text with.

/**
 * Advance widths in em, by character class, close to DejaVu Sans (the font the PNGs use on Linux)
 * and a little wide for Helvetica or Arial, so labels never overlap. Vega's own fallback, 0.8 em
 * per character, overestimates by a third and leaves wide gaps beside row headers and legends.
 */
const CLASS_WIDTHS: readonly [RegExp, number][] = [
  [/[ .,:;'|!·ijlI]/, 0.3],
  [/[ftr()[\]{}/\\"-]/, 0.4],
  [/[mwMW%…]/, 0.95],
  [/[+=<>×−±≈→]/, 0.84],
  [/[A-Z]/, 0.72],
  [/[0-9]/, 0.64],
];
const DEFAULT_WIDTH = 0.62;
const BOLD_FACTOR = 1.1;

/** Estimated width in pixels of `text` in a sans-serif font of `fontSize` px. */
export function estimateTextWidth(
  text: string,
  fontSize: number,
  { bold = false }: { bold?: boolean } = {},
): number {
  let ems = 0;
  for (const character of text)
    ems += CLASS_WIDTHS.find(([pattern]) => pattern.test(character))?.[1] ?? DEFAULT_WIDTH;
  return ems * fontSize * (bold ? BOLD_FACTOR : 1);
}

/** The fields of a Vega text item that its width depends on. */
interface TextItem {
  text?: unknown;
  fontSize?: number;
  fontWeight?: string | number;
}

/** Vega's `textMetrics.width(item, text)`: the widest line of the item's text, estimated. */
export function vegaTextWidth(item: TextItem, text?: unknown): number {
  const value = text ?? item.text;
  const lines = Array.isArray(value)
    ? value.map(String)
    : [value === undefined || value === null ? "" : String(value)];
  const bold = item.fontWeight === "bold" || (typeof item.fontWeight === "number" && item.fontWeight >= 600);
  return Math.max(0, ...lines.map((line) => estimateTextWidth(line, item.fontSize ?? 11, { bold })));
}
