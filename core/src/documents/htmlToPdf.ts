import PDFDocument from 'pdfkit';
import { htmlBlocks, type Block, type Run, type TableRow } from './htmlBlocks';
import { drawLine, TextMeasure, type Align } from './pdfText';
import { toWinAnsi } from './winAnsi';

/**
 * A template's HTML as a PDF, in JavaScript alone (pdfkit and its standard fonts, htmlparser2): no
 * browser and no native binary, so `npm ci` on a clean machine is all it needs. It prints what the
 * packs' templates use, not all of HTML: see htmlBlocks.ts.
 *
 * The same html and options give the same bytes: the PDF's dates come from `creationDate`, and its
 * file id is pdfkit's hash of the info dictionary, which then holds nothing else that varies. A
 * document can be rendered again for an audit and compared byte for byte.
 */

export type PageSize = 'A4' | 'LETTER';

export interface PdfOptions {
  pageSize: PageSize;
  /** The document's title in the PDF's properties; the HTML's <title> when not given. */
  title?: string;
  /** When the document was made: the PDF's CreationDate and ModDate. */
  creationDate: Date | string;
  /** Off only to read the content streams as text (tests). */
  compress?: boolean;
}

/** A4 for GBP tenants, US Letter for USD ones. */
export function pageSizeFor(currency: 'GBP' | 'USD'): PageSize {
  return currency === 'USD' ? 'LETTER' : 'A4';
}

const MARGIN = { top: 50, bottom: 60, left: 50, right: 50 };
const BODY_SIZE = 10;
const TABLE_SIZE = 9;
const LEADING = 1.3;
const CELL_PAD_X = 4;
const CELL_PAD_Y = 3;
const HEADINGS = {
  h1: { size: 16, before: 4, after: 6 },
  h2: { size: 12.5, before: 10, after: 4 },
  h3: { size: 11, before: 8, after: 3 },
  h4: { size: 10, before: 6, after: 2 },
  body: { size: BODY_SIZE, before: 0, after: 5 },
};
const RULE = '#888888';
const HAIRLINE = '#c8c8c8';
const HEADER_FILL = '#ececec';

/** A figure a column of amounts is made of: £1,234.56, -$5.00, (12.00), 7. */
const FIGURE = /^[-(]?[£$€]?-?\d[\d,]*(\.\d+)?\)?$/;

/**
 * One unbreakable piece of the page flow. Paragraphs give one per line so they can break across
 * pages; a table row is one piece and carries its table's header rows to repeat on a new page.
 */
interface Piece {
  height: number;
  draw(top: number): void;
  /** A gap: dropped at the top of a page. */
  gap?: boolean;
  /** Headings and table header rows stay on the page of what follows them. */
  keepWithNext?: boolean;
  repeatOnNewPage?: Piece[];
}

const gap = (height: number): Piece => ({ height, gap: true, draw: () => undefined });

class Layout {
  readonly measure: TextMeasure;

  constructor(private readonly doc: PDFKit.PDFDocument) {
    this.measure = new TextMeasure(doc);
  }

  text(runs: Run[], left: number, width: number, size: number, align: Align = 'left'): Piece[] {
    const lineHeight = size * LEADING;
    return this.measure.lines(runs, size, width).map((line) => ({
      height: lineHeight,
      draw: (top: number) => drawLine(this.doc, line, size, left, top + (lineHeight - size) / 2, width, align),
    }));
  }

  /** The page flow of some blocks in a column. `size` is the body size: tables and cells use their own. */
  flow(blocks: Block[], left: number, width: number, size = BODY_SIZE, align: Align = 'left'): Piece[] {
    const pieces: Piece[] = [];
    for (const block of blocks) {
      if (block.type === 'paragraph') {
        // On the page a heading has its own size; in a table cell everything is the cell's size.
        const style = size === BODY_SIZE ? HEADINGS[block.role] : { size, before: 0, after: 3 };
        if (style.before) pieces.push(gap(style.before));
        const lines = this.text(block.runs, left, width, style.size, align);
        if (block.role !== 'body') lines.forEach((l) => (l.keepWithNext = true));
        pieces.push(...lines, gap(style.after));
      } else if (block.type === 'list') pieces.push(...this.list(block, left, width, size), gap(4));
      else if (block.type === 'definitions') pieces.push(...this.definitions(block, left, width, size), gap(6));
      else if (block.type === 'table') pieces.push(...this.table(block, left, width), gap(10));
      else
        pieces.push({
          height: 8,
          draw: (top) =>
            this.doc
              .moveTo(left, top + 4)
              .lineTo(left + width, top + 4)
              .lineWidth(0.5)
              .strokeColor(RULE)
              .stroke(),
        });
    }
    return pieces;
  }

  private list(block: Extract<Block, { type: 'list' }>, left: number, width: number, size: number): Piece[] {
    const indent = 14;
    const pieces: Piece[] = [];
    block.items.forEach((item, i) => {
      const content = trimGaps(this.flow(item, left + indent, width - indent, size));
      const first = content[0];
      if (!first) return;
      const marker = block.ordered ? `${i + 1}.` : '•';
      const drawFirst = first.draw;
      first.draw = (top) => {
        drawFirst(top);
        this.doc
          .font('Helvetica')
          .fontSize(size)
          .text(marker, left + 2, top + (first.height - size) / 2, { lineBreak: false });
      };
      pieces.push(...content, gap(2));
    });
    return pieces;
  }

  /** Terms in a left column, bold; what they define beside them. An entry does not break across pages. */
  private definitions(
    block: Extract<Block, { type: 'definitions' }>,
    left: number,
    width: number,
    size: number,
  ): Piece[] {
    const widest = Math.max(0, ...block.entries.map((e) => this.measure.extent(e.term, size).max));
    const termWidth = Math.min(Math.max(widest + 12, 60), width * 0.35);
    return block.entries.map((entry) => {
      const term = this.text(entry.term, left, termWidth - 8, size);
      const details = trimGaps(this.flow(entry.details, left + termWidth, width - termWidth, size));
      return this.stack([term, details], 2);
    });
  }

  /** Columns of pieces drawn side by side as one piece, as tall as the tallest column plus `after`. */
  private stack(columns: Piece[][], after: number, before = 0): Piece {
    const height = Math.max(0, ...columns.map(total)) + before + after;
    return {
      height,
      draw: (top) => {
        for (const column of columns) {
          let y = top + before;
          for (const piece of column) {
            piece.draw(y);
            y += piece.height;
          }
        }
      },
    };
  }

  private table(block: Extract<Block, { type: 'table' }>, left: number, width: number): Piece[] {
    const rows = [...block.head, ...block.body, ...block.foot];
    const columnCount = Math.max(0, ...rows.map((r) => r.reduce((n, c) => n + c.colspan, 0)));
    if (!columnCount) return [];
    const figures = figureColumns([...block.body, ...block.foot], columnCount);
    const widths = this.columnWidths(rows, columnCount, width, block.head.length > 0);
    const tableWidth = widths.reduce((a, b) => a + b, 0);
    const pieces: Piece[] = block.caption.length ? [...this.text(block.caption, left, width, BODY_SIZE), gap(2)] : [];

    const rowPiece = (row: TableRow, kind: 'head' | 'body' | 'foot', index: number): Piece => {
      let column = 0;
      const cells = row.map((cell) => {
        const x = left + widths.slice(0, column).reduce((a, b) => a + b, 0);
        const cellWidth = widths.slice(column, column + cell.colspan).reduce((a, b) => a + b, 0);
        const align: Align = cell.colspan === 1 && figures[column] ? 'right' : 'left';
        column += cell.colspan;
        return trimGaps(
          this.flow(cell.blocks, x + CELL_PAD_X, Math.max(cellWidth - 2 * CELL_PAD_X, 1), TABLE_SIZE, align),
        );
      });
      const inner = this.stack(cells, CELL_PAD_Y, CELL_PAD_Y);
      return {
        height: inner.height,
        draw: (top) => {
          const doc = this.doc;
          if (kind === 'head')
            doc.rect(left, top, tableWidth, inner.height).fillColor(HEADER_FILL).fill().fillColor('black');
          if (kind === 'foot' && index === 0)
            doc
              .moveTo(left, top)
              .lineTo(left + tableWidth, top)
              .lineWidth(0.75)
              .strokeColor(RULE)
              .stroke();
          inner.draw(top);
          const last =
            kind === 'head'
              ? index === block.head.length - 1
              : kind === 'foot'
                ? index === block.foot.length - 1
                : index === block.body.length - 1 && !block.foot.length;
          doc
            .moveTo(left, top + inner.height)
            .lineTo(left + tableWidth, top + inner.height)
            .lineWidth(last ? 0.75 : 0.25)
            .strokeColor(last ? RULE : HAIRLINE)
            .stroke();
        },
      };
    };

    const head = block.head.map((row, i) => ({ ...rowPiece(row, 'head', i), keepWithNext: true }));
    pieces.push(...head);
    for (const [i, row] of block.body.entries()) pieces.push({ ...rowPiece(row, 'body', i), repeatOnNewPage: head });
    for (const [i, row] of block.foot.entries()) pieces.push({ ...rowPiece(row, 'foot', i), repeatOnNewPage: head });
    return pieces;
  }

  /**
   * Each column as wide as its content when the table fits. When it does not, every column gets its
   * longest word, then the narrowest columns (dates, references, amounts) get their whole content
   * first, and the widest (details) wrap in what is left. Tables with a header row take the full
   * width, as a statement's do; a table of labels and amounts keeps to its content.
   */
  private columnWidths(rows: TableRow[], count: number, width: number, fill: boolean): number[] {
    const min = new Array<number>(count).fill(2 * CELL_PAD_X);
    const max = new Array<number>(count).fill(2 * CELL_PAD_X);
    for (const row of rows) {
      let column = 0;
      for (const cell of row) {
        if (cell.colspan === 1) {
          const extent = this.blocksExtent(cell.blocks);
          min[column] = Math.max(min[column]!, extent.min + 2 * CELL_PAD_X);
          max[column] = Math.max(max[column]!, extent.max + 2 * CELL_PAD_X);
        }
        column += cell.colspan;
      }
    }
    const sumMax = max.reduce((a, b) => a + b, 0);
    if (sumMax <= width) return fill ? max.map((m) => m + ((width - sumMax) * m) / sumMax) : max;
    const sumMin = min.reduce((a, b) => a + b, 0);
    if (sumMin > width) return min.map((m) => (m * width) / sumMin);
    const widths = [...min];
    let slack = width - sumMin;
    const byWant = widths.map((_, i) => i).sort((a, b) => max[a]! - max[b]! || a - b);
    for (const i of byWant) {
      const grow = Math.min(max[i]! - min[i]!, slack);
      widths[i] = min[i]! + grow;
      slack -= grow;
    }
    return widths;
  }

  private blocksExtent(blocks: Block[]): { min: number; max: number } {
    let min = 0;
    let max = 0;
    for (const block of blocks) {
      const extent = block.type === 'paragraph' ? this.measure.extent(block.runs, TABLE_SIZE) : { min: 60, max: 200 };
      min = Math.max(min, extent.min);
      max = Math.max(max, extent.max);
    }
    return { min, max };
  }
}

function total(pieces: Piece[]): number {
  return pieces.reduce((sum, p) => sum + p.height, 0);
}

/** Gaps at the start and end of a cell or list item would only pad it. */
function trimGaps(pieces: Piece[]): Piece[] {
  let start = 0;
  let end = pieces.length;
  while (start < end && pieces[start]!.gap) start++;
  while (end > start && pieces[end - 1]!.gap) end--;
  return pieces.slice(start, end);
}

function plainText(blocks: Block[]): string {
  return blocks
    .map((b) => (b.type === 'paragraph' ? b.runs.map((r) => r.text).join('') : '\u0000'))
    .join(' ')
    .trim();
}

/** Columns whose cells (those not spanning columns) are all figures, with at least one filled. */
function figureColumns(rows: TableRow[], count: number): boolean[] {
  const seen = new Array<boolean>(count).fill(false);
  const figures = new Array<boolean>(count).fill(true);
  for (const row of rows) {
    let column = 0;
    for (const cell of row) {
      if (cell.colspan === 1) {
        const text = plainText(cell.blocks);
        if (text) {
          seen[column] = true;
          if (!FIGURE.test(text.replace(/\s/g, ''))) figures[column] = false;
        }
      }
      column += cell.colspan;
    }
  }
  return figures.map((f, i) => f && seen[i]!);
}

/** Places pieces down the pages: a piece that does not fit starts a new page, with its table's header again. */
function paginate(doc: PDFKit.PDFDocument, pieces: Piece[]): void {
  const top = MARGIN.top;
  const bottom = () => doc.page.height - MARGIN.bottom;
  let y = top;
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i]!;
    if (piece.gap) {
      if (y > top) y += piece.height;
      continue;
    }
    // A heading or a header row needs room for what it keeps with, or it moves with it.
    let need = piece.height;
    for (let j = i; pieces[j]?.keepWithNext;) {
      let k = j + 1;
      while (pieces[k]?.gap) need += pieces[k++]!.height;
      if (!pieces[k]) break;
      need += pieces[k]!.height;
      j = k;
    }
    if (need > bottom() - top) need = piece.height;
    if (y + need > bottom() && y > top) {
      doc.addPage();
      y = top;
      for (const header of piece.repeatOnNewPage ?? []) {
        header.draw(y);
        y += header.height;
      }
    }
    piece.draw(y);
    y += piece.height;
  }
}

function footers(doc: PDFKit.PDFDocument, title: string): void {
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const y = doc.page.height - MARGIN.bottom + 24;
    const width = doc.page.width - MARGIN.left - MARGIN.right;
    const page = toWinAnsi(`Page ${i + 1} of ${range.count}`);
    doc.font('Helvetica').fontSize(8).fillColor('#555555');
    const pageWidth = doc.widthOfString(page);
    doc.text(page, MARGIN.left + width - pageWidth, y, { lineBreak: false });
    let label = toWinAnsi(title);
    while (label.length > 1 && doc.widthOfString(label) > width - pageWidth - 20) label = `${label.slice(0, -2)}…`;
    doc.text(label, MARGIN.left, y, { lineBreak: false });
    doc.fillColor('black');
  }
}

export function htmlToPdf(html: string, options: PdfOptions): Promise<Buffer> {
  const created = new Date(options.creationDate);
  if (Number.isNaN(created.getTime()))
    return Promise.reject(new Error(`htmlToPdf: creationDate "${String(options.creationDate)}" is not a date`));
  const parsed = htmlBlocks(html);
  const title = options.title ?? parsed.title ?? 'Document';
  const doc = new PDFDocument({
    size: options.pageSize,
    margins: MARGIN,
    bufferPages: true,
    compress: options.compress ?? true,
    displayTitle: true,
    ...(parsed.lang ? { lang: parsed.lang } : {}),
    // Given here, not set afterwards: pdfkit hashes the info dictionary into the file id when the
    // document is created, so a date added later would leave the id made from the clock.
    info: { Title: title, Creator: 'Hearth', Producer: 'Hearth', CreationDate: created, ModDate: created },
  });
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    try {
      const layout = new Layout(doc);
      doc.fillColor('black');
      paginate(doc, layout.flow(parsed.blocks, MARGIN.left, doc.page.width - MARGIN.left - MARGIN.right));
      footers(doc, title);
      doc.end();
    } catch (error) {
      reject(error as Error);
    }
  });
}
