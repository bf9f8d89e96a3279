import { Parser } from 'htmlparser2';

/**
 * A template's HTML as the blocks a printed page is made of. Only what documents use is kept:
 * headings, paragraphs, lists, definition lists, tables, and bold or italic text inside them;
 * sectioning elements (header, main, section, footer, article, div, address) contribute their
 * content; head, script, style and images contribute nothing.
 */

export interface Run {
  /** Whitespace already collapsed as a browser would; "\n" alone is a <br>. */
  text: string;
  bold: boolean;
  italic: boolean;
}

export type ParagraphRole = 'h1' | 'h2' | 'h3' | 'h4' | 'body';

export interface TableCell {
  blocks: Block[];
  header: boolean;
  colspan: number;
}

export type TableRow = TableCell[];

export type Block =
  | { type: 'paragraph'; role: ParagraphRole; runs: Run[] }
  | { type: 'list'; ordered: boolean; items: Block[][] }
  | { type: 'definitions'; entries: Array<{ term: Run[]; details: Block[] }> }
  | { type: 'table'; caption: Run[]; head: TableRow[]; body: TableRow[]; foot: TableRow[] }
  | { type: 'rule' };

export interface HtmlDocument {
  title: string | null;
  lang: string | null;
  blocks: Block[];
}

interface HtmlElement {
  name: string;
  attributes: Record<string, string>;
  children: HtmlNode[];
}
type HtmlNode = HtmlElement | string;

const SKIPPED = new Set([
  'head',
  'title',
  'meta',
  'link',
  'style',
  'script',
  'template',
  'img',
  'svg',
  'canvas',
  'video',
  'audio',
  'iframe',
  'object',
  'noscript',
  'input',
  'button',
  'select',
  'textarea',
]);
const INLINE = new Set([
  'a',
  'abbr',
  'b',
  'bdi',
  'bdo',
  'cite',
  'code',
  'data',
  'del',
  'dfn',
  'em',
  'font',
  'i',
  'ins',
  'kbd',
  'label',
  'mark',
  'q',
  's',
  'samp',
  'small',
  'span',
  'strong',
  'sub',
  'sup',
  'time',
  'u',
  'var',
  'wbr',
  'br',
]);
const BOLD = new Set(['b', 'strong']);
const ITALIC = new Set(['i', 'em', 'cite', 'dfn', 'var']);
const HEADINGS: Record<string, ParagraphRole> = { h1: 'h1', h2: 'h2', h3: 'h3', h4: 'h4', h5: 'h4', h6: 'h4' };

function parse(html: string): HtmlElement {
  const root: HtmlElement = { name: '#root', attributes: {}, children: [] };
  const open: HtmlElement[] = [root];
  const parser = new Parser(
    {
      onopentag(name, attributes) {
        const element: HtmlElement = { name, attributes, children: [] };
        open[open.length - 1]!.children.push(element);
        open.push(element);
      },
      ontext(text) {
        open[open.length - 1]!.children.push(text);
      },
      onclosetag() {
        if (open.length > 1) open.pop();
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true, recognizeSelfClosing: true },
  );
  parser.write(html);
  parser.end();
  return root;
}

interface InlineStyle {
  bold: boolean;
  italic: boolean;
}

function inlineRuns(nodes: HtmlNode[], style: InlineStyle, out: Run[] = []): Run[] {
  for (const node of nodes) {
    if (typeof node === 'string') out.push({ text: node, ...style });
    else if (node.name === 'br') out.push({ text: '\n', ...style });
    else if (!SKIPPED.has(node.name))
      inlineRuns(
        node.children,
        { bold: style.bold || BOLD.has(node.name), italic: style.italic || ITALIC.has(node.name) },
        out,
      );
  }
  return out;
}

/** HTML's whitespace (not JavaScript's \s, which would eat a no-break space). */
const WHITESPACE = /[ \t\n\r\f]+/g;

/** Collapses whitespace across runs, drops it at line starts and ends, and merges runs of one style. */
export function tidyRuns(runs: Run[]): Run[] {
  const out: Run[] = [];
  const trimEnd = () => {
    const last = out[out.length - 1];
    if (last && last.text !== '\n') {
      last.text = last.text.replace(/ +$/, '');
      if (!last.text) out.pop();
    }
  };
  let lineStart = true;
  for (const run of runs) {
    if (run.text === '\n') {
      trimEnd();
      out.push({ ...run });
      lineStart = true;
      continue;
    }
    let text = run.text.replace(WHITESPACE, ' ');
    const previous = out[out.length - 1];
    if (lineStart || previous?.text.endsWith(' ')) text = text.replace(/^ /, '');
    if (!text) continue;
    lineStart = false;
    if (previous && previous.text !== '\n' && previous.bold === run.bold && previous.italic === run.italic)
      previous.text += text;
    else out.push({ text, bold: run.bold, italic: run.italic });
  }
  trimEnd();
  // A browser shows nothing for a <br> that ends a block ("{{this}}<br>" in a loop leaves one).
  while (out.length && out[out.length - 1]!.text === '\n') {
    out.pop();
    trimEnd();
  }
  return out;
}

function paragraph(runs: Run[], role: ParagraphRole): Block[] {
  const tidy = tidyRuns(runs);
  return tidy.length ? [{ type: 'paragraph', role, runs: tidy }] : [];
}

function elementChildren(node: HtmlElement): HtmlElement[] {
  return node.children.filter((c): c is HtmlElement => typeof c !== 'string');
}

function tableRows(node: HtmlElement, style: InlineStyle): TableRow[] {
  return elementChildren(node)
    .filter((tr) => tr.name === 'tr')
    .map((tr) =>
      elementChildren(tr)
        .filter((cell) => cell.name === 'td' || cell.name === 'th')
        .map((cell) => {
          const span = Number.parseInt(cell.attributes.colspan ?? '1', 10);
          const header = cell.name === 'th';
          return {
            blocks: toBlocks(cell.children, { ...style, bold: style.bold || header }),
            header,
            colspan: Number.isFinite(span) && span > 0 ? Math.min(span, 50) : 1,
          };
        }),
    )
    .filter((row) => row.length > 0);
}

function table(node: HtmlElement, style: InlineStyle): Block {
  const block: Extract<Block, { type: 'table' }> = { type: 'table', caption: [], head: [], body: [], foot: [] };
  for (const child of elementChildren(node)) {
    if (child.name === 'caption') block.caption = tidyRuns(inlineRuns(child.children, { ...style, bold: true }));
    else if (child.name === 'thead') block.head.push(...tableRows(child, style));
    else if (child.name === 'tbody') block.body.push(...tableRows(child, style));
    else if (child.name === 'tfoot') block.foot.push(...tableRows(child, style));
    else if (child.name === 'tr') block.body.push(...tableRows({ ...node, children: [child] }, style));
  }
  return block;
}

function definitions(node: HtmlElement, style: InlineStyle): Block {
  const block: Extract<Block, { type: 'definitions' }> = { type: 'definitions', entries: [] };
  const visit = (children: HtmlElement[]) => {
    for (const child of children) {
      if (child.name === 'dt')
        block.entries.push({ term: tidyRuns(inlineRuns(child.children, { ...style, bold: true })), details: [] });
      else if (child.name === 'dd') {
        if (!block.entries.length) block.entries.push({ term: [], details: [] });
        block.entries[block.entries.length - 1]!.details.push(...toBlocks(child.children, style));
      } else if (child.name === 'div') visit(elementChildren(child));
    }
  };
  visit(elementChildren(node));
  return block;
}

function toBlocks(nodes: HtmlNode[], style: InlineStyle): Block[] {
  const blocks: Block[] = [];
  let pending: HtmlNode[] = [];
  const flush = () => {
    if (pending.length) blocks.push(...paragraph(inlineRuns(pending, style), 'body'));
    pending = [];
  };
  for (const node of nodes) {
    if (typeof node === 'string' || INLINE.has(node.name)) {
      pending.push(node);
      continue;
    }
    if (SKIPPED.has(node.name)) continue;
    flush();
    const heading = HEADINGS[node.name];
    if (heading) blocks.push(...paragraph(inlineRuns(node.children, { ...style, bold: true }), heading));
    else if (node.name === 'p') blocks.push(...paragraph(inlineRuns(node.children, style), 'body'));
    else if (node.name === 'ul' || node.name === 'ol') {
      const items = elementChildren(node)
        .filter((li) => li.name === 'li')
        .map((li) => toBlocks(li.children, style))
        .filter((item) => item.length > 0);
      if (items.length) blocks.push({ type: 'list', ordered: node.name === 'ol', items });
    } else if (node.name === 'dl') blocks.push(definitions(node, style));
    else if (node.name === 'table') blocks.push(table(node, style));
    else if (node.name === 'hr') blocks.push({ type: 'rule' });
    else blocks.push(...toBlocks(node.children, style));
  }
  flush();
  return blocks;
}

function textOf(node: HtmlElement | undefined): string | null {
  if (!node) return null;
  const text = tidyRuns(inlineRuns(node.children, { bold: false, italic: false }))
    .map((r) => r.text)
    .join(' ')
    .trim();
  return text || null;
}

function find(node: HtmlElement, name: string): HtmlElement | undefined {
  for (const child of elementChildren(node)) {
    if (child.name === name) return child;
    const found = find(child, name);
    if (found) return found;
  }
  return undefined;
}

export function htmlBlocks(html: string): HtmlDocument {
  const root = parse(html);
  const title = find(root, 'title');
  const lang = find(root, 'html')?.attributes.lang ?? null;
  return { title: textOf(title), lang, blocks: toBlocks(root.children, { bold: false, italic: false }) };
}
