/** Adds deltas into an in-memory counter of named fields, as a state store's `increment` does. */
export function addInto(counter: Record<string, number>, deltas: Readonly<Record<string, number>>): void {
  for (const [k, d] of Object.entries(deltas)) counter[k] = (counter[k] ?? 0) + d;
}
