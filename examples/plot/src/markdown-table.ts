// Markdown tables for the results files the examples write next to their charts.

/**
 * A GitHub-flavoured Markdown table. Cells are strings (format numbers before); a column whose
 * cells all parse as numbers is right-aligned. Pipes inside cells are escaped.
 */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  for (const [i, row] of rows.entries()) {
    if (row.length !== header.length) {
      throw new RangeError(
        `markdownTable: row ${i} has ${row.length} cells, the header has ${header.length}`,
      );
    }
  }
  const numeric = header.map((_, column) => rows.length > 0 && rows.every((row) => isNumeric(row[column])));
  const escapePipes = (cell: string) => cell.replaceAll("|", "\\|");
  const line = (cells: readonly string[]) => `| ${cells.map(escapePipes).join(" | ")} |`;
  const rule = `|${numeric.map((right) => (right ? " ---: " : " --- ")).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

function isNumeric(cell: string): boolean {
  return (
    /^[-+]?(\d[\d,]*\.?\d*|\.\d+)(e[-+]?\d+)?%?$/i.test(cell.trim()) ||
    /^[-+]?(Infinity|NaN)$/.test(cell.trim())
  );
}
