import type { Run } from './htmlBlocks';
import { toWinAnsi } from './winAnsi';

/**
 * Lines of text measured and broken by us rather than by pdfkit, so that a paragraph or a table cell
 * knows its height before anything is drawn: tables need every cell's height to size a row and to
 * decide whether the row still fits on the page.
 */

const FONTS = {
  regular: 'Helvetica',
  bold: 'Helvetica-Bold',
  italic: 'Helvetica-Oblique',
  boldItalic: 'Helvetica-BoldOblique',
} as const;
type FontName = (typeof FONTS)[keyof typeof FONTS];

export function fontFor(bold: boolean, italic: boolean): FontName {
  if (bold) return italic ? FONTS.boldItalic : FONTS.bold;
  return italic ? FONTS.italic : FONTS.regular;
}

interface Fragment {
  text: string;
  font: FontName;
  x: number;
  width: number;
}

export interface TextLine {
  fragments: Fragment[];
  width: number;
}

export type Align = 'left' | 'right';

/** Words are measured one by one but drawn as one string, whose kerning differs by a hair. */
const FIT_TOLERANCE = 0.5;

/** Measures with the document's own font metrics (kerning included), remembering each answer. */
export class TextMeasure {
  private readonly widths = new Map<string, number>();

  constructor(private readonly doc: PDFKit.PDFDocument) {}

  width(font: FontName, size: number, text: string): number {
    const key = `${font}\u0000${size}\u0000${text}`;
    let width = this.widths.get(key);
    if (width === undefined) {
      width = this.doc.font(font).fontSize(size).widthOfString(text);
      this.widths.set(key, width);
    }
    return width;
  }

  /**
   * The widest single word (what a column cannot be narrower than) and each <br>-separated line on
   * one line, measured word by word as lines() places them, so a column as wide as `max` never wraps.
   */
  extent(runs: Run[], size: number): { min: number; max: number } {
    let min = 0;
    let max = 0;
    for (const line of this.lines(runs, size, Number.POSITIVE_INFINITY)) {
      max = Math.max(max, line.width);
      for (const fragment of line.fragments) {
        for (const word of fragment.text.split(' '))
          if (word) min = Math.max(min, this.width(fragment.font, size, word));
      }
    }
    return { min, max };
  }

  /** Greedy line breaking at spaces and <br>; a word wider than the line is broken between letters. */
  lines(runs: Run[], size: number, width: number): TextLine[] {
    const lines: TextLine[] = [];
    let current: Array<{ text: string; font: FontName }> = [];
    let x = 0;
    const finish = () => {
      let at = 0;
      const fragments = current.map((f) => {
        const fragment = { ...f, x: at, width: this.width(f.font, size, f.text) };
        at += fragment.width;
        return fragment;
      });
      lines.push({ fragments, width: at });
      current = [];
      x = 0;
    };
    const place = (text: string, font: FontName, space: boolean, textWidth: number) => {
      const last = current[current.length - 1];
      if (last && last.font === font) last.text += (space ? ' ' : '') + text;
      else {
        if (last && space) last.text += ' ';
        current.push({ text, font });
      }
      x += (space ? this.width(font, size, ' ') : 0) + textWidth;
    };

    let pendingSpace = false;
    for (const run of runs) {
      if (run.text === '\n') {
        finish();
        pendingSpace = false;
        continue;
      }
      const font = fontFor(run.bold, run.italic);
      toWinAnsi(run.text)
        .split(' ')
        .forEach((word, i) => {
          if (i > 0) pendingSpace = true;
          if (!word) return;
          const space = pendingSpace && current.length > 0;
          pendingSpace = false;
          const wordWidth = this.width(font, size, word);
          if (current.length && x + (space ? this.width(font, size, ' ') : 0) + wordWidth > width + FIT_TOLERANCE) {
            finish();
            return this.placeLong(word, font, size, width, place, finish);
          }
          if (!current.length) return this.placeLong(word, font, size, width, place, finish);
          place(word, font, space, wordWidth);
        });
    }
    if (current.length || !lines.length) finish();
    return lines;
  }

  private placeLong(
    word: string,
    font: FontName,
    size: number,
    width: number,
    place: (text: string, font: FontName, space: boolean, w: number) => void,
    finish: () => void,
  ): void {
    const wordWidth = this.width(font, size, word);
    if (wordWidth <= width + FIT_TOLERANCE) return place(word, font, false, wordWidth);
    let piece = '';
    for (const char of word) {
      if (piece && this.width(font, size, piece + char) > width) {
        place(piece, font, false, this.width(font, size, piece));
        finish();
        piece = '';
      }
      piece += char;
    }
    if (piece) place(piece, font, false, this.width(font, size, piece));
  }
}

export function drawLine(
  doc: PDFKit.PDFDocument,
  line: TextLine,
  size: number,
  left: number,
  top: number,
  boxWidth: number,
  align: Align,
): void {
  const offset = align === 'right' ? Math.max(0, boxWidth - line.width) : 0;
  for (const fragment of line.fragments) {
    doc
      .font(fragment.font)
      .fontSize(size)
      .text(fragment.text, left + offset + fragment.x, top, { lineBreak: false });
  }
}
