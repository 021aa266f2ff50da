/** Names typed wrong: the known one meant, as commander suggests for options. No dependencies. */

/** The known name nearest to a mistyped one (at most a few edits, as commander suggests), if any. */
export function closest(typed: string, known: string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    // No fewer edits than the lengths differ by: a name typed far longer (a key of a file anyone can
    // commit, 300,000 characters) is not compared, which took seconds per known name.
    if (Math.abs(typed.length - name.length) > 3) continue;
    const distance = editDistance(typed, name);
    const similar = (name.length - distance) / name.length > 0.4;
    if (distance <= 3 && similar && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/** Damerau–Levenshtein distance (adjacent transpositions count as one edit). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = value;
    }
  }
  return at(a.length, b.length);
}
