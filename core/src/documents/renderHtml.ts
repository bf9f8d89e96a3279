/*
 * Packs' handlebars templates rendered to HTML.
 *
 * The view model each financial kind expects (types in ./viewModels.ts; money and dates arrive as
 * display strings, see formatMoney and formatDocumentDate; dates that a <time> shows come with an
 * `…Iso` twin; children are initials or a reference on anything sent outside the service):
 *
 * statement (UK carer-statement, USA provider-statement)
 *   service { name, addressLines[], contact }
 *   statement { reference, paymentDate, paymentDateIso }
 *   period { start, startIso, end, endIso }
 *   carer { names, reference }
 *   components [{ key, label }]            rate components shown, in order (allowance, fee, level_of_care…)
 *   lines [{ child, from, to, nights|null, description, amounts { <component>: money }, total }]
 *   extras [{ child, description, amount }]
 *   expenses [{ date, description, amount }]
 *   adjustments [{ description, amount }]  arrears and recoveries, saying what each corrects
 *   totals { amounts { <component>: money }, lines, extras, expenses, adjustments, total }
 *   notes? [string]
 *
 * remittance (remittance-advice)
 *   service { name, addressLines[], contact }
 *   remittance { reference, paymentRun, paymentDate, paymentDateIso, method }
 *   payee { name, reference, accountEnding, sortCodeEnding|null }
 *   lines [{ reference, description, period, amount }]
 *   total
 *
 * annual_statement (UK annual-statement: the tax year; USA annual-statement: the calendar year)
 *   service { name, addressLines[], contact }
 *   statement { title, basis, from, fromIso, to, toIso }
 *   carer { names, reference }
 *   components [{ label, amount }]
 *   months [{ month, amount }]
 *   runs [{ reference, paidOn, paidOnIso, amount }]
 *   total
 *
 * invoice (invoice)
 *   service { name, legalName, addressLines[], contact, registration|null, taxNumber|null }
 *   invoice { number, date, dateIso, dueDate, dueDateIso, terms }
 *   billTo { name, addressLines[], reference|null }
 *   period { start, startIso, end, endIso }
 *   lines [{ child, placementReference, from, to, nights, rate, description, amount }]
 *   totals { net, tax|null, total }
 *   payment { instructions [string] }
 *   notes? [string]
 *
 * credit_note (credit-note)
 *   service, billTo, lines, totals, notes?   as for invoice
 *   creditNote { number, date, dateIso, reason }
 *   credits { invoiceNumber, invoiceDate, invoiceDateIso }   the invoice it credits
 *
 * Letters and agreements read whatever their pack's sampleData shows.
 */
import Handlebars from 'handlebars';

/**
 * A private instance: helpers or partials registered elsewhere in the process never change what a
 * document says, and a tenant's template cannot reach them.
 */
const handlebars = Handlebars.create();

/** Bounded, because tenants' overlay sources are many and change; the packs' own few stay warm. */
const MAX_COMPILED = 200;
const compiled = new Map<string, Handlebars.TemplateDelegate>();

/** A template that does not compile, or data that lacks what the template prints. */
export class TemplateRenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateRenderError';
  }
}

/** The compiled template for a source, compiled once while it stays in use. */
export function compileTemplate(source: string): Handlebars.TemplateDelegate {
  const found = compiled.get(source);
  if (found) {
    // Most recently used last, so the oldest unused source is the one evicted.
    compiled.delete(source);
    compiled.set(source, found);
    return found;
  }
  // Strict: printing a field the data lacks throws (a misspelt {{carer.nmaes}} would otherwise print
  // nothing on a carer's statement); {{#if}} and {{#each}} still accept an absent field, which the
  // packs' optional sections rely on.
  const template = handlebars.compile(source, { strict: true });
  compiled.set(source, template);
  if (compiled.size > MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
  return template;
}

/**
 * The template's HTML for the data. `{{…}}` is HTML-escaped (a name with `<` stays text); only a
 * template's own `{{{…}}}` is not.
 */
export function renderHtml(source: string, data: object): string {
  try {
    return compileTemplate(source)(data);
  } catch (error) {
    // A parse error's middle lines draw the source with a caret; its first and last say where and what.
    const lines = (error as Error).message.split('\n');
    const message = lines.length > 1 ? `${lines[0]} ${lines[lines.length - 1]}` : lines[0];
    throw new TemplateRenderError(`The template cannot render this data: ${message}`);
  }
}
