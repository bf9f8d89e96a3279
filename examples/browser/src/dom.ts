/**
 * Builds the page from data without ever parsing it as HTML: every string becomes a text node, so a
 * child's name holding `<script>` shows as written. Nothing in the app assigns innerHTML.
 */
export type Content = Node | string | number | null | undefined | false;

type AttributeValue = string | number | boolean | null | undefined;
type Listener = (event: Event) => void;
export type Attributes = Record<string, AttributeValue | Listener>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...content: (Content | Content[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, '').toLowerCase(), value);
    else if (value === true) element.setAttribute(name, '');
    else if (value !== false && value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  append(element, ...content);
  return element;
}

export function append(parent: Node, ...content: (Content | Content[])[]): void {
  for (const item of content.flat()) {
    if (item === null || item === undefined || item === false) continue;
    parent.appendChild(
      typeof item === 'string' || typeof item === 'number' ? document.createTextNode(String(item)) : item,
    );
  }
}

/** A table with a caption and column headers; each row is a list of cells (a `th` for the row's first when `rowHeader`). */
export function table(
  caption: string,
  columns: string[],
  rows: Content[][],
  options: { rowHeader?: boolean; footer?: Content[]; numeric?: number[] } = {},
): HTMLTableElement {
  const numeric = new Set(options.numeric ?? []);
  const cell = (content: Content, i: number, header: boolean) =>
    header
      ? h('th', { scope: 'row', class: numeric.has(i) ? 'num' : null }, content)
      : h('td', { class: numeric.has(i) ? 'num' : null }, content);
  return h(
    'table',
    {},
    h('caption', {}, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map((column, i) => h('th', { scope: 'col', class: numeric.has(i) ? 'num' : null }, column)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((row) =>
        h(
          'tr',
          {},
          row.map((content, i) => cell(content, i, i === 0 && options.rowHeader === true)),
        ),
      ),
    ),
    options.footer
      ? h(
          'tfoot',
          {},
          h(
            'tr',
            {},
            options.footer.map((content, i) => cell(content, i, i === 0)),
          ),
        )
      : null,
  );
}
