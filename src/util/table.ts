/** Prints a titled two-or-more-column table to stdout for human-readable reports. */
export function printTable(title: string, rows: (string | number)[][], header?: string[]): void {
  const all = header ? [header, ...rows] : rows;
  const cols = Math.max(...all.map((r) => r.length));
  const fmt = (v: string | number): string =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : v;
  const width = Array.from({ length: cols }, (_, c) =>
    Math.max(...all.map((r) => (r[c] === undefined ? 0 : fmt(r[c]).length))),
  );
  console.log(`\n${title}`);
  all.forEach((r, j) => {
    console.log(
      '  ' +
        r
          .map((v, c) =>
            header && typeof v === 'number' && c > 0 ? fmt(v).padStart(width[c]) : fmt(v).padEnd(width[c]),
          )
          .join('  ')
          .trimEnd(),
    );
    if (header && j === 0) console.log('  ' + width.map((w) => '-'.repeat(w)).join('  '));
  });
}
