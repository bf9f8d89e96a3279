/** What the export tests read CSV with: strict, so an export that bends RFC 4180 fails rather than parses. */

/** A strict RFC 4180 parser: CRLF records, fields quoted with doubled quotes; anything else throws. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let i = 0;
  if (!text.endsWith('\r\n')) throw new Error('the last record does not end with CRLF');
  while (i < text.length) {
    const record: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) throw new Error('unterminated quoted field');
          if (text[i] === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          field += text[i++];
        }
      } else {
        while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
          if (text[i] === '"') throw new Error(`a quote inside an unquoted field at ${i}`);
          field += text[i++];
        }
      }
      record.push(field);
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '\r' && text[i + 1] === '\n') {
        i += 2;
        break;
      }
      throw new Error(`expected a comma or CRLF at ${i}, found ${JSON.stringify(text[i])}`);
    }
    records.push(record);
  }
  const width = records[0]!.length;
  records.forEach((r, n) => {
    if (r.length !== width) throw new Error(`record ${n} has ${r.length} fields, the header ${width}`);
  });
  return records;
}

/** "123.45" / "-0.05" to minor units, as strings, without floating point. */
export function toMinor(text: string): number {
  const match = /^(-?)(\d+)\.(\d{2})$/.exec(text);
  if (!match) throw new Error(`${JSON.stringify(text)} is not a decimal amount with two places`);
  return (match[1] ? -1 : 1) * Number(match[2]! + match[3]!);
}
