import { unwrap, type HearthClient, type Schema } from '@hearth/sdk';
import { h, table } from '../dom';
import { describeFailure } from '../failure';
import { dateElement, moneyElement, words, type Place } from '../format';
import { allPages } from '../pages';
import type { View } from './view';

type PaymentRun = Schema<'PaymentRunFields'>;
type PaymentLine = Schema<'PaymentLine'>;

/** How many of the latest runs the payments section shows. */
const RUNS_SHOWN = 3;

/** A carer household, and what it is paid in the latest payment runs, line by line, with its statements. */
export const householdView: View = async (session, householdId) => {
  const { client, place } = session;
  const household = await unwrap(
    client.GET('/v1/carer-households/{householdId}', { params: { path: { householdId } } }),
  );
  const payments = session.can('payments:read')
    ? await paymentsSection(client, place, householdId)
    : [h('p', {}, 'Payments are shown to finance staff (the permission payments:read).')];
  return {
    title: household.name,
    content: [
      h('p', { class: 'breadcrumb' }, h('a', { href: '#/households' }, 'Carer households')),
      h('h1', { id: 'page-title', tabindex: '-1' }, household.name),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Approval'),
        h(
          'dd',
          {},
          words(household.approvalState),
          household.approvedOn
            ? h('span', {}, ' (approved ', dateElement(household.approvedOn, place.locale), ')')
            : '',
        ),
        h('dt', {}, 'Region'),
        h('dd', {}, household.region ? words(household.region) : 'Not recorded'),
        h('dt', {}, 'Carer level'),
        h('dd', {}, household.carerLevel ? words(household.carerLevel) : 'Not recorded'),
      ),
      h('h2', {}, 'Payments'),
      ...payments,
    ],
  };
};

async function paymentsSection(client: HearthClient, place: Place, householdId: string): Promise<HTMLElement[]> {
  const runs = (await unwrap(client.GET('/v1/payment-runs', { params: { query: { limit: RUNS_SHOWN } } }))).data;
  if (runs.length === 0) return [h('p', {}, 'No payment runs yet.')];
  const lines = await Promise.all(
    runs.map((run) =>
      allPages((cursor) =>
        unwrap(
          client.GET('/v1/payment-runs/{runId}/lines', {
            params: { path: { runId: run.id }, query: { householdId, limit: 200, ...cursor } },
          }),
        ),
      ),
    ),
  );
  return runs.map((run, i) => runSection(client, place, householdId, run, lines[i] ?? []));
}

function runSection(
  client: HearthClient,
  place: Place,
  householdId: string,
  run: PaymentRun,
  lines: PaymentLine[],
): HTMLElement {
  const money = (minorUnits: number) => moneyElement(minorUnits, run.currency, place.locale);
  const date = (iso: string) => dateElement(iso, place.locale);
  // Integers in minor units all the way: the total is a sum of integers, formatted once.
  const total = lines.reduce((sum, line) => sum + line.amount, 0);
  const headingId = `run-${run.id}`;
  return h(
    'section',
    { class: 'run', 'aria-labelledby': headingId },
    h('h3', { id: headingId }, `${run.reference}: `, date(run.periodStart), ' to ', date(run.periodEnd)),
    h('p', {}, `${words(run.status)}; paid on `, date(run.paymentDate), '.'),
    lines.length === 0
      ? h('p', {}, 'Nothing for this household in this run.')
      : h(
          'div',
          {},
          table(
            `Lines of ${run.reference} for this household`,
            ['Line', 'Component', 'Kind', 'Nights', 'Amount'],
            lines.map((line) => [
              line.description,
              words(line.component),
              words(line.kind),
              line.nights ?? '',
              money(line.amount),
            ]),
            { rowHeader: true, numeric: [3, 4], footer: ['Total', '', '', '', money(total)] },
          ),
          statement(client, run, householdId),
        ),
  );
}

/**
 * The household's statement for the run, as the API renders it. It needs the bearer token, so a
 * plain link cannot fetch it: the app fetches it and shows the HTML in a sandboxed frame (no
 * scripts, no access to this page), and fetches the PDF to download on request.
 */
function statement(client: HearthClient, run: PaymentRun, householdId: string): HTMLElement {
  const params = (format: 'html' | 'pdf') => ({ path: { runId: run.id, householdId }, query: { format } });
  const path = '/v1/payment-runs/{runId}/households/{householdId}/statement' as const;
  const shown = h('div', { class: 'statement' });
  const view = h('button', { type: 'button' }, `View statement`);
  const pdf = h('button', { type: 'button' }, `Download statement (PDF)`);
  const failed = (error: unknown) => shown.replaceChildren(describeFailure(error));

  view.addEventListener('click', () => {
    view.disabled = true;
    unwrap(client.GET(path, { params: params('html'), parseAs: 'text' }))
      .then((html) => {
        const frame = h('iframe', {
          title: `Statement for ${run.reference}`,
          sandbox: '',
          referrerpolicy: 'no-referrer',
        });
        frame.srcdoc = html;
        shown.replaceChildren(frame);
      })
      .catch(failed)
      .finally(() => (view.disabled = false));
  });
  pdf.addEventListener('click', () => {
    pdf.disabled = true;
    unwrap(client.GET(path, { params: params('pdf'), parseAs: 'blob' }))
      .then((blob) => {
        const url = URL.createObjectURL(blob);
        const link = h('a', { href: url, download: `statement-${run.reference}-${householdId.slice(0, 8)}.pdf` });
        link.click();
        // The download has its own copy of the bytes once started.
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      })
      .catch(failed)
      .finally(() => (pdf.disabled = false));
  });
  return h('div', { class: 'statement-actions' }, h('p', {}, view, ' ', pdf), shown);
}
