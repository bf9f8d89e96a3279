/**
 * The PDF's standard fonts (Helvetica) encode text as WinAnsi (Windows-1252): Latin-1 plus € ‚ ƒ „ …
 * † ‡ ˆ ‰ Š ‹ Œ Ž ‘ ’ “ ” • – — ˜ ™ š › œ ž Ÿ. pdfkit writes any other character as broken hex, so
 * text is brought into that set first, keeping as much of a name as can be kept.
 */

const WIN_ANSI_EXTRA = '€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ';
const EXTRA = new Set([...WIN_ANSI_EXTRA].map((c) => c.codePointAt(0)!));

export function isWinAnsi(char: string): boolean {
  const code = char.codePointAt(0)!;
  return (code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff) || EXTRA.has(code);
}

/** Letters with no decomposition to a base letter, and punctuation WinAnsi lacks but has a near twin for. */
const NEAREST: Record<string, string> = {
  Ł: 'L',
  ł: 'l',
  Đ: 'D',
  đ: 'd',
  Ħ: 'H',
  ħ: 'h',
  ı: 'i',
  Ŀ: 'L',
  ŀ: 'l',
  Ŋ: 'N',
  ŋ: 'n',
  Ŧ: 'T',
  ŧ: 't',
  ẞ: 'SS',
  Ə: 'E',
  ə: 'e',
  '\u2010': '-',
  '\u2011': '-',
  '\u2012': '–',
  '\u2015': '—',
  '\u2212': '-',
  '\u2032': "'",
  '\u2033': '"',
  '\u2044': '/',
  '\u2002': ' ',
  '\u2003': ' ',
  '\u2007': ' ',
  '\u2009': ' ',
  '\u200a': ' ',
  '\u202f': ' ',
  '\u2264': '<=',
  '\u2265': '>=',
  '\u2192': '->',
};

const cache = new Map<string, string>();

function nearest(char: string): string {
  const known = NEAREST[char];
  if (known !== undefined) return known;
  // ễ (Vietnamese) is not in WinAnsi but ê is: drop accents from the outside in until what is left
  // is; ș or Ż come down to s and Z. A base letter is closer to the name than a question mark.
  const parts = [...char.normalize('NFD')];
  while (parts.length > 1) {
    parts.pop();
    const kept = parts.join('').normalize('NFC');
    if ([...kept].every(isWinAnsi)) return kept;
  }
  const compatible = char.normalize('NFKD').replace(/\p{M}/gu, '');
  if (compatible && compatible !== char && [...compatible].every(isWinAnsi)) return compatible;
  // A control character, or an accent left over from a letter that has none in WinAnsi, shows nothing.
  if (/[\p{Cc}\p{Cf}\p{M}]/u.test(char)) return '';
  return '?';
}

/** Text the standard fonts can show: NFC first (so a decomposed é is é), then the nearest WinAnsi for the rest. */
export function toWinAnsi(text: string): string {
  let out = '';
  for (const char of text.normalize('NFC')) {
    if (isWinAnsi(char)) {
      out += char;
      continue;
    }
    let mapped = cache.get(char);
    if (mapped === undefined) {
      mapped = nearest(char);
      cache.set(char, mapped);
    }
    out += mapped;
  }
  return out;
}
