/** Edit distance between two strings (insertions, deletions and substitutions cost 1). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length];
}

/**
 * The names closest to what was typed, best first: compared without case and punctuation (so
 * `ml100k` finds `ml-100k`), within an edit distance of a third of the name (at least 2).
 */
export function closestNames(typed: string, names: readonly string[], max = 3): string[] {
  const norm = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  const t = norm(typed);
  return names
    .map((name) => ({ name, d: editDistance(t, norm(name)) }))
    .filter(({ name, d }) => d <= Math.max(2, Math.floor(norm(name).length / 3)))
    .sort((x, y) => x.d - y.d || x.name.localeCompare(y.name))
    .slice(0, max)
    .map(({ name }) => name);
}
