import fs from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import { repoRoot } from '../config';
import { effectiveConfiguration, type Overlay } from '../modules/configuration/effective';
import type { TenantConfiguration } from '../modules/configuration/tenantConfiguration';
import { loadPacks } from '../packs/registry';
import type { TemplateDefinition } from '../packs/types';
import {
  compileTemplate,
  documentFor,
  documentOfKind,
  DocumentTemplateError,
  formatDocumentDate,
  formatMoney,
  htmlToPdf,
  pageSizeFor,
  renderHtml,
  TemplateRenderError,
} from '.';
import type { AnnualStatementView, CreditNoteView, InvoiceView, RemittanceView, StatementView } from './viewModels';
import { toWinAnsi } from './winAnsi';
import ukStatement from '../../../packs/uk/templates/carer-statement.json';
import ukRemittance from '../../../packs/uk/templates/remittance-advice.json';
import ukInvoice from '../../../packs/uk/templates/invoice.json';
import ukCreditNote from '../../../packs/uk/templates/credit-note.json';
import usaStatement from '../../../packs/usa/templates/provider-statement.json';
import usaRemittance from '../../../packs/usa/templates/remittance-advice.json';
import usaInvoice from '../../../packs/usa/templates/invoice.json';
import usaCreditNote from '../../../packs/usa/templates/credit-note.json';
import ukAnnual from '../../../packs/uk/templates/annual-statement.json';
import usaAnnual from '../../../packs/usa/templates/annual-statement.json';

// One view model fills both packs' templates of a kind: each pack's sampleData must be assignable
// to the kind's type, so a shape that drifts fails typecheck.
const _samplesFitTheViewModels: [
  StatementView,
  StatementView,
  RemittanceView,
  RemittanceView,
  InvoiceView,
  InvoiceView,
  CreditNoteView,
  CreditNoteView,
  AnnualStatementView,
  AnnualStatementView,
] = [
  ukStatement.sampleData,
  usaStatement.sampleData,
  ukRemittance.sampleData,
  usaRemittance.sampleData,
  ukInvoice.sampleData,
  usaInvoice.sampleData,
  ukCreditNote.sampleData,
  usaCreditNote.sampleData,
  ukAnnual.sampleData,
  usaAnnual.sampleData,
];

const registry = loadPacks();
const PACKS = ['uk', 'usa'] as const;
const CREATED = '2025-10-24T09:30:00Z';

interface PackTemplate {
  pack: (typeof PACKS)[number];
  template: TemplateDefinition;
  source: string;
}

const templates: PackTemplate[] = PACKS.flatMap((pack) => {
  const resolved = registry.resolve(pack);
  return [...resolved.points.templates.values()].map((item) => {
    const template = item.value as TemplateDefinition;
    return { pack, template, source: fs.readFileSync(path.join(item.folder, template.file), 'utf8') };
  });
});

/** Every string in the sample data, with its path. */
function strings(value: unknown, at = ''): Array<[string, string]> {
  if (typeof value === 'string') return [[at, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${at}/${i}`));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => strings(v, `${at}/${k}`));
  return [];
}

/**
 * Sample values a template holds without printing: keys it looks amounts up by, and the view model's
 * line totals, which the UK statement leaves out because it shows allowance and fee apart.
 */
const NOT_PRINTED: Record<string, RegExp> = {
  'uk/carer-statement': /^\/(components\/\d+\/key|lines\/\d+\/total|totals\/lines)$/,
  'usa/provider-statement': /^\/components\/\d+\/key$/,
};

function pick(data: Record<string, unknown>, pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], data) as string;
}

/** The values a reader must find on each document: whom it is for and how much. */
const KEY_VALUES: Record<string, string[]> = {
  'uk/carer-statement': ['/carer/names', '/totals/total'],
  'uk/remittance-advice': ['/payee/name', '/total'],
  'uk/invoice': ['/billTo/name', '/invoice/number', '/totals/total'],
  'uk/credit-note': ['/billTo/name', '/credits/invoiceNumber', '/totals/total'],
  'uk/annual-statement': ['/carer/names', '/total'],
  'uk/approval-letter': ['/carer/names', '/decision/decisionMakerName'],
  'uk/placement-agreement': ['/carer/names', '/finance/allowance'],
  'uk/review-report': ['/carer/names', '/review/outcome'],
  'usa/provider-statement': ['/carer/names', '/totals/total'],
  'usa/remittance-advice': ['/payee/name', '/total'],
  'usa/invoice': ['/billTo/name', '/invoice/number', '/totals/total'],
  'usa/credit-note': ['/billTo/name', '/credits/invoiceNumber', '/totals/total'],
  'usa/annual-statement': ['/carer/names', '/total'],
  'usa/approval-letter': ['/family/names', '/approval/effectiveDate'],
  'usa/placement-agreement': ['/family/names', '/rate/amount'],
  'usa/review-report': ['/carer/names', '/review/outcome'],
};

/** Windows-1252's 0x80-0x9F (Node's TextDecoder reads this label as Latin-1, which has controls there). */
const CP1252_80_9F = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ';

function winAnsiText(hex: string): string {
  return [...Buffer.from(hex, 'hex')]
    .map((byte) => (byte >= 0x80 && byte <= 0x9f ? CP1252_80_9F[byte - 0x80]! : String.fromCharCode(byte)))
    .join('');
}

/**
 * The text a PDF shows, from its uncompressed content streams: each TJ's hex strings decoded as
 * WinAnsi (what the standard fonts use), one TJ per line. A page is one content stream.
 */
function pdfPages(pdf: Buffer): string[] {
  const streams = [...pdf.toString('latin1').matchAll(/stream\n([\s\S]*?)\nendstream/g)]
    .map((m) => m[1]!)
    .filter((s) => s.includes(' TJ'));
  return streams.map((stream) =>
    [...stream.matchAll(/\[(.*?)\] TJ/g)]
      .map((tj) => [...tj[1]!.matchAll(/<([0-9a-f]*)>/g)].map((hex) => winAnsiText(hex[1]!)).join(''))
      .join('\n'),
  );
}

function pdfText(pdf: Buffer): string {
  return pdfPages(pdf).join('\n');
}

/** Where each piece of text starts on the page, to check alignment. */
function textPositions(pdf: Buffer): Array<{ x: number; text: string }> {
  return [...pdf.toString('latin1').matchAll(/1 0 0 1 ([\d.]+) [\d.]+ Tm\n\/F\d+ [\d.]+ Tf\n\[(.*?)\] TJ/g)].map(
    (m) => ({
      x: Number(m[1]),
      text: [...m[2]!.matchAll(/<([0-9a-f]*)>/g)].map((hex) => winAnsiText(hex[1]!)).join(''),
    }),
  );
}

function pageCount(pdf: Buffer): number {
  return (pdf.toString('latin1').match(/\/Type \/Page\b(?!s)/g) ?? []).length;
}

describe('every template of every pack', () => {
  it.each(templates.map((t) => [`${t.pack}/${t.template.key}`, t] as const))(
    '%s renders its sampleData to HTML, every value in it escaped',
    (name, { pack, template, source }) => {
      const html = renderHtml(source, template.sampleData);
      const missing = strings(template.sampleData)
        .filter(([pointer, value]) => value !== '' && !NOT_PRINTED[name]?.test(pointer))
        .filter(([, value]) => !html.includes(Handlebars.escapeExpression(value)));
      expect(missing).toEqual([]);
      for (const pointer of KEY_VALUES[`${pack}/${template.key}`] ?? [])
        expect(html).toContain(Handlebars.escapeExpression(pick(template.sampleData, pointer)));
    },
  );

  it('has the key values of each template listed, so none goes unchecked in the PDF', () => {
    expect(Object.keys(KEY_VALUES).sort()).toEqual(templates.map((t) => `${t.pack}/${t.template.key}`).sort());
  });

  it.each(templates.map((t) => [`${t.pack}/${t.template.key}`, t] as const))(
    '%s renders to a PDF whose text reads back, on the page size of its currency',
    async (_name, { pack, template, source }) => {
      const html = renderHtml(source, template.sampleData);
      const pageSize = pageSizeFor(registry.resolve(pack).manifest.currency);
      const pdf = await htmlToPdf(html, { pageSize, creationDate: CREATED, compress: false });
      expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      const mediaBox = pageSize === 'A4' ? '/MediaBox [0 0 595.28 841.89]' : '/MediaBox [0 0 612 792]';
      expect(pdf.toString('latin1')).toContain(mediaBox);
      const text = pdfText(pdf);
      for (const pointer of KEY_VALUES[`${pack}/${template.key}`]!)
        expect(text).toContain(toWinAnsi(pick(template.sampleData, pointer)));
    },
  );

  it.each(templates.map((t) => [`${t.pack}/${t.template.key}`, t] as const))(
    '%s gives the same PDF bytes each time',
    async (_name, { template, source }) => {
      const html = renderHtml(source, template.sampleData);
      const first = await htmlToPdf(html, { pageSize: 'A4', creationDate: CREATED });
      const second = await htmlToPdf(html, { pageSize: 'A4', creationDate: new Date(CREATED) });
      expect(first.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      expect(second.equals(first)).toBe(true);
    },
  );
});

describe('the financial templates', () => {
  it('are one of each kind in each pack, and documentOfKind finds them whatever the pack calls them', () => {
    for (const [packId, statementKey] of [
      ['uk', 'carer-statement'],
      ['usa/ca', 'provider-statement'],
      ['usa/tx', 'provider-statement'],
    ] as const) {
      const pack = registry.resolve(packId);
      const effective = effectiveConfiguration(pack, [], '2025-10-24');
      expect(documentOfKind(effective, 'statement', pack).key).toBe(statementKey);
      expect(documentOfKind(effective, 'remittance', pack).key).toBe('remittance-advice');
      expect(documentOfKind(effective, 'invoice', pack).key).toBe('invoice');
      expect(documentOfKind(effective, 'credit_note', pack).key).toBe('credit-note');
    }
  });

  it('show the care lines of a California statement by the components the data names (basic rate, level of care)', () => {
    const { source } = templates.find((t) => t.pack === 'usa' && t.template.key === 'provider-statement')!;
    const data = structuredClone(usaStatement.sampleData) as StatementView;
    const html = renderHtml(source, data);
    expect(html).toContain('<th scope="col">Basic rate</th>');
    expect(html).toContain('<th scope="col">Level of care</th>');
    // A Texas statement pays one daily rate: one component, one column.
    data.components = [{ key: 'allowance', label: 'Daily rate' }];
    expect(renderHtml(source, data)).not.toContain('Level of care</th>');
  });

  it('right-align a column of amounts and leave words left-aligned', async () => {
    const { source } = templates.find((t) => t.pack === 'uk' && t.template.key === 'carer-statement')!;
    const pdf = await htmlToPdf(renderHtml(source, ukStatement.sampleData), {
      pageSize: 'A4',
      creationDate: CREATED,
      compress: false,
    });
    const at = (text: string) => textPositions(pdf).find((p) => p.text === text)!.x;
    // Allowances £194.00 and £97.14 end at the same edge, so the shorter one starts further right.
    expect(at('£97.14')).toBeGreaterThan(at('£194.00'));
    expect(at('Amy S.')).toBe(at('Ben S.'));
  });
});

describe('renderHtml', () => {
  const { source } = templates.find((t) => t.pack === 'uk' && t.template.key === 'carer-statement')!;

  it('escapes what the data says, so a name cannot become markup', async () => {
    const data = structuredClone(ukStatement.sampleData);
    data.carer.names = '<script>alert("x")</script> & “O’Brien”';
    const html = renderHtml(source, data);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; “O’Brien”');
    const text = pdfText(await htmlToPdf(html, { pageSize: 'A4', creationDate: CREATED, compress: false }));
    expect(text).toContain('<script>alert("x")</script> & “O’Brien”');
  });

  it('refuses data that lacks a field the template prints, naming it, and accepts a missing optional section', () => {
    const data = structuredClone(ukStatement.sampleData) as Partial<typeof ukStatement.sampleData>;
    delete data.notes;
    expect(renderHtml(source, data)).toContain('Sam and Alex Taylor');
    const broken = structuredClone(ukStatement.sampleData) as { carer: Partial<typeof ukStatement.sampleData.carer> };
    delete broken.carer.names;
    expect(() => renderHtml(source, broken)).toThrow(TemplateRenderError);
    expect(() => renderHtml(source, broken)).toThrow(/"names" not defined/);
    expect(() => renderHtml('<p>{{#if}}</p>', {})).toThrow(/cannot render this data: Parse error on line 1/);
  });

  it('compiles a source once and then reuses it', () => {
    const local = '<p>{{who}} once</p>';
    expect(compileTemplate(local)).toBe(compileTemplate(local));
    expect(renderHtml(local, { who: 'A' })).toBe('<p>A once</p>');
    expect(renderHtml(local, { who: 'B' })).toBe('<p>B once</p>');
  });
});

describe('documentFor', () => {
  const uk = registry.resolve('uk');
  const overlay = (version: number, effectiveFrom: string, source: string): Overlay => ({
    id: `00000000-0000-4000-8000-00000000000${version}`,
    version,
    effectiveFrom,
    description: 'our own statement',
    changes: { templates: { 'carer-statement': { source } } },
    createdBy: null,
    createdAt: '2025-01-01T00:00:00.000Z',
  });
  const tenant = (packId: string, overlays: Overlay[], asOf: string): TenantConfiguration => {
    const pack = registry.resolve(packId);
    return {
      packId,
      timeZone: 'Europe/London',
      currency: pack.manifest.currency,
      today: asOf,
      pack,
      overlays,
      effective: effectiveConfiguration(pack, overlays, asOf),
    };
  };

  it("gives the pack's source and layer without an overlay, from a TenantConfiguration or an effective configuration", () => {
    const fromTenant = documentFor(tenant('uk', [], '2025-10-24'), 'carer-statement');
    expect(fromTenant).toMatchObject({
      key: 'carer-statement',
      kind: 'statement',
      layer: 'pack:uk',
      name: 'Foster carer payment statement',
    });
    expect(fromTenant.source).toBe(
      fs.readFileSync(path.join(repoRoot, 'packs/uk/templates/carer-statement.hbs'), 'utf8'),
    );
    expect(documentFor(effectiveConfiguration(uk, [], '2025-10-24'), 'carer-statement', uk)).toEqual(fromTenant);
  });

  it("gives an overlay's source in place of the pack's from the date it takes effect, naming the overlay as the layer", () => {
    const own = '<h1>{{carer.names}}: {{totals.total}}</h1>';
    const overlays = [overlay(1, '2025-11-01', own)];
    expect(documentFor(tenant('uk', overlays, '2025-10-31'), 'carer-statement').layer).toBe('pack:uk');
    const template = documentFor(tenant('uk', overlays, '2025-11-01'), 'carer-statement');
    expect(template).toMatchObject({ key: 'carer-statement', kind: 'statement', layer: 'overlay:1', source: own });
    expect(renderHtml(template.source, ukStatement.sampleData)).toBe('<h1>Sam and Alex Taylor: £661.18</h1>');
    // The other templates stay the pack's.
    expect(documentFor(tenant('uk', overlays, '2025-11-01'), 'remittance-advice').layer).toBe('pack:uk');
  });

  it('names the baseline as the layer of a template a state pack inherits', () => {
    expect(documentFor(tenant('usa/ca', [], '2025-10-24'), 'provider-statement')).toMatchObject({
      layer: 'pack:usa',
      kind: 'statement',
    });
  });

  it('says what is wrong when the template or the pack is not there', () => {
    expect(() => documentFor(tenant('uk', [], '2025-10-24'), 'provider-statement')).toThrow(DocumentTemplateError);
    expect(() => documentFor(tenant('uk', [], '2025-10-24'), 'provider-statement')).toThrow(
      '(pack "uk") has no template "provider-statement"',
    );
    expect(() => documentOfKind(tenant('uk', [], '2025-10-24'), 'letter')).not.toThrow();
    const unloaded: TenantConfiguration = {
      packId: 'atlantis',
      timeZone: 'UTC',
      currency: 'GBP',
      today: '2025-10-24',
      pack: null,
      overlays: [],
      effective: null,
    };
    expect(() => documentFor(unloaded, 'carer-statement')).toThrow('pack "atlantis" is not loaded');
    expect(() =>
      documentFor(effectiveConfiguration(uk, [], '2025-10-24'), 'carer-statement', registry.resolve('usa')),
    ).toThrow('is for pack "uk", not "usa"');
  });
});

describe('htmlToPdf', () => {
  function longStatement(lines: number): StatementView {
    const data = structuredClone(ukStatement.sampleData) as StatementView;
    data.lines = Array.from({ length: lines }, (_, i) => ({
      child: `Child ${String(i + 1).padStart(3, '0')}`,
      from: '1 Oct 2025',
      to: '31 Oct 2025',
      nights: 31,
      description:
        i % 7 === 0
          ? 'Age 16, London, with a description long enough to wrap onto a second line in its column'
          : 'Age 10, rest of England',
      amounts: { allowance: '£859.14', fee: '£442.86' },
      total: '£1,302.00',
    }));
    data.totals.total = '£390,600.00';
    return data;
  }

  it('breaks a long statement across pages with the header row on each, and numbers the pages', async () => {
    const { source } = templates.find((t) => t.pack === 'uk' && t.template.key === 'carer-statement')!;
    const html = renderHtml(source, longStatement(300));
    const pdf = await htmlToPdf(html, { pageSize: 'A4', creationDate: CREATED, compress: false });
    const pages = pdfPages(pdf);
    expect(pageCount(pdf)).toBe(pages.length);
    expect(pages.length).toBeGreaterThan(3);
    const withLines = pages.filter((page) => /^Child \d{3}$/m.test(page));
    expect(withLines.length).toBeGreaterThan(3);
    for (const page of withLines) expect(page).toMatch(/^Nights$/m);
    pages.forEach((page, i) => expect(page).toContain(`Page ${i + 1} of ${pages.length}`));
    const text = pages.join('\n');
    for (let i = 1; i <= 300; i++) expect(text).toContain(`Child ${String(i).padStart(3, '0')}`);
    expect(text).toContain('Sam and Alex Taylor');
    expect(text).toContain('£390,600.00');
  });

  it('prints how long a 300-line statement takes to render (a figure, not a test)', async () => {
    const { source } = templates.find((t) => t.pack === 'uk' && t.template.key === 'carer-statement')!;
    const data = longStatement(300);
    await htmlToPdf(renderHtml(source, data), { pageSize: 'A4', creationDate: CREATED });
    const started = process.hrtime.bigint();
    const html = renderHtml(source, data);
    const rendered = process.hrtime.bigint();
    const pdf = await htmlToPdf(html, { pageSize: 'A4', creationDate: CREATED });
    const done = process.hrtime.bigint();
    const ms = (from: bigint, to: bigint) => (Number(to - from) / 1e6).toFixed(1);
    console.log(
      `300-line statement: HTML ${ms(started, rendered)} ms, PDF ${ms(rendered, done)} ms, ${pageCount(pdf)} pages, ${pdf.length} bytes`,
    );
  });

  it('shows £, $, é and curly quotes, and brings other letters to the nearest the standard fonts have', async () => {
    const pdf = await htmlToPdf(
      '<p>Café “quoted” ‘single’ — £5 and $7 – naïve</p><p>Łukasz Żółć, Ștefan, Nguyễn: 3−2</p>',
      { pageSize: 'LETTER', creationDate: CREATED, compress: false },
    );
    const text = pdfText(pdf);
    expect(text).toContain('Café “quoted” ‘single’ — £5 and $7 – naïve');
    expect(text).toContain('Lukasz Zólc, Stefan, Nguyên: 3-2');
    expect(toWinAnsi('e\u0301')).toBe('é');
    expect(toWinAnsi('日本')).toBe('??');
  });

  it('dates the PDF from creationDate, titles it from the HTML or the option, and refuses a date it cannot read', async () => {
    const html = '<html lang="en-US"><head><title>Remittance RA-1</title></head><body><p>Paid</p></body></html>';
    const pdf = (
      await htmlToPdf(html, { pageSize: 'LETTER', creationDate: '2022-10-10T12:00:00Z', compress: false })
    ).toString('latin1');
    expect(pdf).toContain('(D:20221010120000Z)');
    expect(pdf).toContain('\n(Remittance RA-1)\n');
    expect(pdf).toContain('/Lang (en-US)');
    const titled = (
      await htmlToPdf(html, { pageSize: 'LETTER', title: 'Other', creationDate: '2022-10-10', compress: false })
    ).toString('latin1');
    expect(titled).toContain('\n(Other)\n');
    const later = await htmlToPdf(html, { pageSize: 'LETTER', creationDate: '2022-10-11' });
    expect(later.equals(await htmlToPdf(html, { pageSize: 'LETTER', creationDate: '2022-10-10' }))).toBe(false);
    await expect(htmlToPdf(html, { pageSize: 'LETTER', creationDate: 'yesterday' })).rejects.toThrow(
      'creationDate "yesterday" is not a date',
    );
  });
});

describe('formatting for view models', () => {
  it('formats money from minor units as each currency writes it', () => {
    expect(formatMoney(66118, 'GBP')).toBe('£661.18');
    expect(formatMoney(39060000, 'GBP')).toBe('£390,600.00');
    expect(formatMoney(-500, 'USD')).toBe('-$5.00');
    expect(formatMoney(5, 'USD')).toBe('$0.05');
    expect(() => formatMoney(1.5, 'GBP')).toThrow();
  });

  it('writes dates as each country does', () => {
    expect(formatDocumentDate('2025-10-24', 'GBP')).toBe('24 October 2025');
    expect(formatDocumentDate('2022-09-01', 'USD', 'short')).toBe('Sep 1, 2022');
    expect(() => formatDocumentDate('2025-02-30x', 'GBP')).toThrow();
  });
});
