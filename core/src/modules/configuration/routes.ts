import { addDays, daysBetween } from '../../dates';
import { CalendarRangeError, WorkingCalendar } from '../../packs/calendar';
import { dueDates } from '../../packs/cycles';
import type { ResolvedPack } from '../../packs/registry';
import type { CycleDefinition, FormDefinition } from '../../packs/types';
import type { components } from '../../../../sdk/src/schema';
import type { OperationContext, OperationMap, OperationResult } from '../../http/operation';
import { decodeCursor, toPage } from '../../http/pagination';
import { Problem, type FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { placementSegments, RateBook, RateConfigurationError, type Occasion } from '../../rates/engine';
import { todayIn } from '../../time';
import { checkOverlay, effectiveConfiguration, rateOverlays, type Overlay, type OverlayChanges } from './effective';
import { overlayToApi, tenantOverlays, type OverlayRow } from './tenantConfiguration';
import { formDataErrors, storeFormSubmission, submissionToApi, type FormSubjectType, type SubmissionRow } from './formSubmissions';
import { missingForEveryRule, missingForTables, notPaidReason, placementTypeForRules, rulesInPeriod, type GivenFacts } from './rateEvaluation';

/** Stores overlays as the next versions, in order; the caller holds the tenant row lock. */
async function insertOverlays(ctx: OperationContext, overlays: Array<{ effectiveFrom: string; description: string; changes: OverlayChanges }>): Promise<OverlayRow[]> {
  if (!overlays.length) return [];
  const last = (await ctx.trx('tenant_config_overlays').where({ tenant_id: ctx.tenantId }).max('version as version').first()) as { version: number | null };
  return (await ctx.trx('tenant_config_overlays')
    .insert(
      overlays.map((overlay, i) => ({
        tenant_id: ctx.tenantId,
        id: newId(),
        version: (last.version ?? 0) + i + 1,
        effective_from: overlay.effectiveFrom,
        description: overlay.description,
        changes: JSON.stringify(overlay.changes),
        created_by: ctx.principal!.kind === 'user' ? ctx.principal!.id : null,
      })),
    )
    .returning('*')) as OverlayRow[];
}

async function tenantContext(ctx: OperationContext): Promise<{ pack: ResolvedPack; timeZone: string; currency: 'GBP' | 'USD'; overlays: Overlay[] }> {
  const tenant = (await ctx.trx('tenants').where({ id: ctx.tenantId }).first('pack_id', 'time_zone', 'currency')) as { pack_id: string; time_zone: string; currency: 'GBP' | 'USD' };
  if (!ctx.services.packs.has(tenant.pack_id)) throw new Problem('unprocessable', `The tenant's pack "${tenant.pack_id}" is not loaded on this platform`);
  return { pack: ctx.services.packs.resolve(tenant.pack_id), timeZone: tenant.time_zone, currency: tenant.currency, overlays: await tenantOverlays(ctx.trx, ctx.tenantId!) };
}

async function listPacks(ctx: OperationContext): Promise<OperationResult> {
  const data = ctx.services.packs.list().map((p) => ({
    id: p.manifest.id,
    version: p.manifest.version,
    name: p.manifest.name,
    jurisdiction: p.manifest.jurisdiction,
    currency: p.manifest.currency,
    ...(p.manifest.extends ? { extends: p.manifest.extends } : {}),
    chain: ctx.services.packs.resolve(p.manifest.id).chain,
  }));
  return { status: 200, body: { data } };
}

async function getEffectiveConfiguration(ctx: OperationContext): Promise<OperationResult> {
  const { pack, timeZone, overlays } = await tenantContext(ctx);
  const asOf = (ctx.query.asOf as string | undefined) ?? todayIn(timeZone);
  return { status: 200, body: effectiveConfiguration(pack, overlays, asOf) };
}

async function effectiveForm(ctx: OperationContext, key: string, version: number): Promise<{ form: FormDefinition; layer: string }> {
  const { pack, timeZone, overlays } = await tenantContext(ctx);
  const config = effectiveConfiguration(pack, overlays, todayIn(timeZone));
  const item = config.forms.find((f) => f.key === `${key}@${version}`);
  if (!item) throw Problem.notFound(`Version ${version} of the form "${key}"`);
  return { form: item.value as unknown as FormDefinition, layer: item.layer };
}

async function getFormSchema(ctx: OperationContext): Promise<OperationResult> {
  const { form, layer } = await effectiveForm(ctx, ctx.params.formKey!, Number(ctx.params.formVersion));
  return { status: 200, body: { key: form.key, version: form.version, title: form.title, ...(form.description ? { description: form.description } : {}), layer, schema: form.schema } };
}

async function listOverlays(ctx: OperationContext): Promise<OperationResult> {
  const limit = ctx.query.limit as number;
  const after = decodeCursor(ctx.query.cursor as string | undefined, 1);
  const query = ctx.trx('tenant_config_overlays').where({ tenant_id: ctx.tenantId }).orderBy('version', 'desc').limit(limit + 1);
  if (after) query.where('version', '<', after[0] as number);
  const rows = (await query) as OverlayRow[];
  return { status: 200, body: toPage(rows, limit, (r) => [r.version], overlayToApi) };
}

async function getOverlay(ctx: OperationContext): Promise<OperationResult> {
  const row = (await ctx.trx('tenant_config_overlays').where({ tenant_id: ctx.tenantId, id: ctx.params.overlayId }).first()) as OverlayRow | undefined;
  if (!row) throw Problem.notFound('The overlay');
  return { status: 200, body: overlayToApi(row) };
}

async function createOverlay(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { effectiveFrom: string; description: string; changes: OverlayChanges };
  // The tenant row is locked so versions are handed out one at a time.
  await ctx.trx('tenants').where({ id: ctx.tenantId }).forUpdate().first('id');
  const { pack } = await tenantContext(ctx);
  const { errors, floor } = checkOverlay(pack, body.changes, body.effectiveFrom);
  if (errors.length) throw Problem.unprocessable(errors);
  if (floor) {
    const where = Object.entries(floor.dimensions).map(([d, v]) => `${d} ${v}`).join(', ');
    throw new Problem('unprocessable', `${floor.table}: ${floor.offered} is below the floor of ${floor.floorAmount} (${where}) in effect on ${body.effectiveFrom}, from ${floor.floorLayer}`, {
      errors: [{ pointer: `/body/changes/rates/${floor.table}/amounts/${Object.values(floor.dimensions).join('/')}`, message: `is below the floor of ${floor.floorAmount}` }],
      floor,
    });
  }
  const [row] = await insertOverlays(ctx, [body]);
  const overlay = overlayToApi(row!);
  await ctx.audit({ action: 'configuration.overlay_added', entityType: 'configuration_overlay', entityId: overlay.id, after: overlay });
  return { status: 201, body: overlay, headers: { Location: `/v1/configuration/overlays/${overlay.id}` } };
}

async function exportConfiguration(ctx: OperationContext): Promise<OperationResult> {
  const { pack, overlays } = await tenantContext(ctx);
  return {
    status: 200,
    body: {
      format: 'hearth.configuration',
      formatVersion: 1,
      packId: pack.manifest.id,
      exportedAt: new Date().toISOString(),
      overlays: overlays.map((o) => ({ effectiveFrom: o.effectiveFrom, description: o.description, changes: o.changes })),
    },
  };
}

async function importConfiguration(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { packId: string; overlays: Array<{ effectiveFrom: string; description: string; changes: OverlayChanges }> };
  await ctx.trx('tenants').where({ id: ctx.tenantId }).forUpdate().first('id');
  const { pack } = await tenantContext(ctx);
  if (body.packId !== pack.manifest.id) throw Problem.unprocessable([{ pointer: '/body/packId', message: `the tenant is on the pack "${pack.manifest.id}"` }]);
  // Every overlay is checked before any is stored: all or nothing.
  const errors: FieldError[] = [];
  body.overlays.forEach((overlay, i) => {
    const checked = checkOverlay(pack, overlay.changes, overlay.effectiveFrom);
    errors.push(...checked.errors.map((e) => ({ ...e, pointer: e.pointer.replace('/body/', `/body/overlays/${i}/`) })));
    if (checked.floor) {
      errors.push({ pointer: `/body/overlays/${i}/changes/rates/${checked.floor.table}/amounts/${Object.values(checked.floor.dimensions).join('/')}`, message: `is below the floor of ${checked.floor.floorAmount} from ${checked.floor.floorLayer}` });
    }
  });
  if (errors.length) throw Problem.unprocessable(errors);
  const versions = (await insertOverlays(ctx, body.overlays)).map((row) => row.version);
  await ctx.audit({ action: 'configuration.imported', entityType: 'configuration', entityId: ctx.tenantId, after: { packId: body.packId, versions } });
  return { status: 201, body: { imported: versions.length, versions } };
}

/**
 * Where each kind of subject lives, to check one exists in the tenant; a deleted child is not one.
 * Read here, not through each module, because all this asks is whether the row is there.
 */
const SUBJECT_TABLES: Record<FormSubjectType, { table: string; live?: string }> = {
  child: { table: 'children', live: 'deleted_at' },
  user: { table: 'users' },
  carer_household: { table: 'carer_households' },
  placement: { table: 'placements' },
};

async function submitForm(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { formKey: string; formVersion: number; subjectType: FormSubjectType; subjectId: string; data: Record<string, unknown> };
  const { form, layer } = await effectiveForm(ctx, body.formKey, body.formVersion);
  const where = SUBJECT_TABLES[body.subjectType];
  const query = ctx.trx(where.table).where({ tenant_id: ctx.tenantId, id: body.subjectId }).first('id');
  if (where.live) query.whereNull(where.live);
  const errors: FieldError[] = [];
  if (!(await query)) errors.push({ pointer: '/body/subjectId', message: `is not a ${body.subjectType} of this tenant` });
  errors.push(...formDataErrors(form.schema, body.data));
  if (errors.length) throw Problem.unprocessable(errors);
  const row = await storeFormSubmission(ctx.trx, ctx.tenantId!, {
    formKey: form.key,
    formVersion: form.version,
    layer,
    subjectType: body.subjectType,
    subjectId: body.subjectId,
    data: body.data,
    submittedBy: ctx.principal!.kind === 'user' ? ctx.principal!.id : null,
  });
  const submission = submissionToApi(row);
  await ctx.audit({ action: 'form.submitted', entityType: 'form_submission', entityId: submission.id, after: { formKey: submission.formKey, formVersion: submission.formVersion, subjectType: submission.subjectType, subjectId: submission.subjectId } });
  return { status: 201, body: submission, headers: { Location: `/v1/form-submissions/${submission.id}` } };
}

async function getFormSubmission(ctx: OperationContext): Promise<OperationResult> {
  const row = (await ctx.trx('form_submissions').where({ tenant_id: ctx.tenantId, id: ctx.params.submissionId }).first()) as SubmissionRow | undefined;
  if (!row) throw Problem.notFound('The form submission');
  return { status: 200, body: submissionToApi(row) };
}

/**
 * What a placement would be paid over a period, and why. A fact the tenant's rules cannot pay
 * without is refused by name rather than priced to 0 (see rateEvaluation.ts), and an evaluation that
 * pays nothing says why in `notPaid`.
 */
async function evaluateRate(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as components['schemas']['RateEvaluationRequest'];
  const errors: FieldError[] = [];
  if (body.periodEnd < body.periodStart) errors.push({ pointer: '/body/periodEnd', message: 'is before periodStart' });
  if (body.placementEnd && body.placementEnd < body.placementStart) errors.push({ pointer: '/body/placementEnd', message: 'is before placementStart' });
  if (body.childDateOfBirth > body.periodEnd) errors.push({ pointer: '/body/childDateOfBirth', message: 'is after the period' });
  if (daysBetween(body.periodStart, body.periodEnd) > 366) errors.push({ pointer: '/body/periodEnd', message: 'the period may be at most a year' });
  if (errors.length) throw Problem.unprocessable(errors);
  const { pack, currency, overlays } = await tenantContext(ctx);
  const tenantTypes = (await ctx.trx('lookup_values').where({ tenant_id: ctx.tenantId, list_key: 'placement_type', active: true }).pluck('code')) as string[];
  const placementType = placementTypeForRules(pack, tenantTypes, body.placementType ?? null);
  if (placementType.error) throw Problem.unprocessable([placementType.error]);
  const given: GivenFacts = {
    placementType: placementType.value,
    region: body.region ?? null,
    carerLevel: body.carerLevel ?? null,
    levelOfCare: body.levelOfCare ?? null,
  };
  const period = { from: body.periodStart, to: body.periodEnd };
  const ruleChanges = rateOverlays(overlays);
  const rules = rulesInPeriod(pack, ruleChanges.rules, period);
  const missing = missingForEveryRule(rules, given);
  if (missing.length) throw Problem.unprocessable(missing);
  const respite = body.respite ?? false;
  const placement = { placementStart: body.placementStart, placementEnd: body.placementEnd ?? null, childDateOfBirth: body.childDateOfBirth, respite, given };
  try {
    const book = new RateBook(pack, ruleChanges);
    const occasions: Occasion[] = (body.occasions ?? []).map((o) => ({ kind: o.kind, date: o.date, name: o.name ?? null }));
    // The deprecated flags: an occasion on the last night the child is in the placement in the period.
    const lastNight = body.placementEnd && body.placementEnd <= body.periodEnd ? addDays(body.placementEnd, -1) : body.periodEnd;
    if (body.festivalInPeriod) occasions.push({ kind: 'festival', date: lastNight });
    if (body.holidayWeekInPeriod) occasions.push({ kind: 'holiday', date: lastNight });
    const lines = await placementSegments(
      book,
      {
        startDate: placement.placementStart,
        endDate: placement.placementEnd,
        childDateOfBirth: placement.childDateOfBirth,
        ...given,
        respite,
        occasions,
      },
      period,
    );
    const notPaid = lines.length ? null : await notPaidReason(book, placement, period);
    const { paymentUnit, departureDayPaid, conversion, rounding, schedule } = book.policy;
    const total = lines.reduce((sum, l) => sum + l.amount, 0);
    return { status: 200, body: { currency, policy: { paymentUnit, departureDayPaid, conversion, rounding, schedule }, lines, total, notPaid }, noWrite: true };
  } catch (error) {
    if (!(error instanceof RateConfigurationError)) throw error;
    const unread = missingForTables(pack, rules, given);
    throw unread.length ? Problem.unprocessable(unread) : new Problem('unprocessable', error.message);
  }
}

async function computeCycleDueDates(ctx: OperationContext): Promise<OperationResult> {
  const body = ctx.body as { triggerDate: string; until: string; completed?: string[]; dateOfBirth?: string; facts?: Record<string, unknown> };
  const { pack, overlays, timeZone } = await tenantContext(ctx);
  const config = effectiveConfiguration(pack, overlays, todayIn(timeZone));
  const item = config.cycles.find((c) => c.key === ctx.params.cycleKey);
  if (!item) throw Problem.notFound(`The cycle "${ctx.params.cycleKey}"`);
  const cycle = item.value as unknown as CycleDefinition;
  if (body.until < body.triggerDate) throw Problem.unprocessable([{ pointer: '/body/until', message: 'is before triggerDate' }]);
  const calendar = new WorkingCalendar(pack.calendar ?? { key: 'none', name: 'no calendar', source: 'none', weekend: [0, 6], holidays: [] });
  try {
    const occurrences = await dueDates(cycle, calendar, { triggerDate: body.triggerDate, until: body.until, completed: body.completed, dateOfBirth: body.dateOfBirth, facts: body.facts });
    return { status: 200, body: { cycle: { key: cycle.key, name: cycle.name, source: cycle.source, layer: item.layer }, calendar: pack.calendar?.key ?? null, occurrences }, noWrite: true };
  } catch (error) {
    if (error instanceof CalendarRangeError) throw Problem.unprocessable([{ pointer: '/body/until', message: error.message }]);
    throw error;
  }
}

export const configurationOperations: OperationMap = {
  listPacks: { access: { permission: 'configuration:read' }, handle: listPacks },
  getEffectiveConfiguration: { access: { permission: 'configuration:read' }, handle: getEffectiveConfiguration },
  getFormSchema: { access: { permission: 'configuration:read' }, handle: getFormSchema },
  listOverlays: { access: { permission: 'configuration:read' }, handle: listOverlays },
  getOverlay: { access: { permission: 'configuration:read' }, handle: getOverlay },
  createOverlay: { access: { permission: 'configuration:manage' }, handle: createOverlay },
  submitForm: { access: { permission: 'forms:submit' }, handle: submitForm },
  getFormSubmission: { access: { permission: 'forms:read' }, handle: getFormSubmission },
  evaluateRate: { access: { permission: 'rates:evaluate' }, handle: evaluateRate },
  computeCycleDueDates: { access: { permission: 'configuration:read' }, handle: computeCycleDueDates },
  exportConfiguration: { access: { permission: 'configuration:read' }, handle: exportConfiguration },
  importConfiguration: { access: { permission: 'configuration:manage' }, handle: importConfiguration },
};
