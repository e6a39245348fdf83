// Words made only of these characters mean the same to sh quoted or not.
// "=" is left out so that a first word is never read as an assignment,
// and "~", "#", "^" because sh gives them a meaning at the start of a word.
const SAFE = /^[A-Za-z0-9_\/.,:+@%-]+$/;

/** Quotes one word for a POSIX shell. */
export function shellQuoteWord(word: string): string {
  if (word.includes("\0")) throw new Error("a shell word cannot contain a NUL byte");
  if (SAFE.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Turns an argv array into one command line that a POSIX shell splits back into exactly that argv. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map(shellQuoteWord).join(" ");
}
