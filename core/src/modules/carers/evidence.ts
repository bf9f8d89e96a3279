import type { OperationContext, OperationResult } from '../../http/operation';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { formDataErrors, storeFormSubmission, submissionToApi } from '../configuration/formSubmissions';
import { actorId, configFor, decisionToApi, documentToApi, findHousehold, type DecisionRow, type DocumentRow } from './shared';


export async function recordCarerEvidenceDocument(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as { key: string; title: string; receivedOn: string; notes?: string };
  const household = await findHousehold(ctx, { lock: true });
  const { today } = await configFor(ctx);
  if (input.receivedOn > today) throw Problem.unprocessable([{ pointer: '/body/receivedOn', message: 'is in the future' }]);
  const [row] = (await ctx.trx('carer_evidence_documents')
    .insert({ tenant_id: ctx.tenantId, id: newId(), household_id: household.id, key: input.key, title: input.title, received_on: input.receivedOn, notes: input.notes ?? null, recorded_by: actorId(ctx) })
    .returning('*')) as DocumentRow[];
  const body = documentToApi(row!);
  await ctx.audit({ action: 'carer_household.document_recorded', entityType: 'carer_household', entityId: household.id, after: { document: body } });
  return { status: 201, body, headers: { Location: `/v1/carer-households/${household.id}/documents/${body.id}` } };
}

export interface DecisionInput { key: string; outcome?: string; decidedOn?: string; reasons?: string; facts?: Record<string, unknown> }

/** Stores a decision in the request's transaction (the caller audits). */
export async function insertDecision(ctx: OperationContext, householdId: string, input: DecisionInput & { decidedOn: string }, extra: { details?: Record<string, unknown>; panelId?: string } = {}): Promise<DecisionRow> {
  const { today } = await configFor(ctx);
  if (input.decidedOn > today) throw Problem.unprocessable([{ pointer: '/body/decidedOn', message: 'is in the future' }]);
  const [row] = (await ctx.trx('carer_decisions')
    .insert({
      tenant_id: ctx.tenantId, id: newId(), household_id: householdId, key: input.key, outcome: input.outcome ?? null, decided_on: input.decidedOn, reasons: input.reasons ?? null,
      facts: JSON.stringify(input.facts ?? {}), details: JSON.stringify(extra.details ?? {}), panel_id: extra.panelId ?? null, recorded_by: actorId(ctx),
    })
    .returning('*')) as DecisionRow[];
  return row!;
}

export async function recordCarerDecision(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as DecisionInput & { decidedOn: string };
  const household = await findHousehold(ctx, { lock: true });
  const body = decisionToApi(await insertDecision(ctx, household.id, input));
  await ctx.audit({ action: 'carer_household.decision_recorded', entityType: 'carer_household', entityId: household.id, after: { decision: body } });
  return { status: 201, body, headers: { Location: `/v1/carer-households/${household.id}/decisions/${body.id}` } };
}

/** Validated against the tenant's effective form and stored in form_submissions with the household as subject. */
export async function submitCarerHouseholdForm(ctx: OperationContext): Promise<OperationResult> {
  const input = ctx.body as { formKey: string; formVersion?: number; data: Record<string, unknown> };
  const household = await findHousehold(ctx, { lock: true });
  const { forms } = await configFor(ctx);
  const versions = forms.get(input.formKey);
  if (!versions?.length) throw Problem.unprocessable([{ pointer: '/body/formKey', message: "is not a form of the tenant's configuration" }]);
  const form = input.formVersion === undefined ? versions[versions.length - 1]! : versions.find((v) => v.version === input.formVersion);
  if (!form) throw Problem.unprocessable([{ pointer: '/body/formVersion', message: `is not a version of the form "${input.formKey}" (${versions.map((v) => v.version).join(', ')})` }]);
  const errors = formDataErrors(form.schema, input.data);
  if (errors.length) throw Problem.unprocessable(errors);
  const body = submissionToApi(await storeFormSubmission(ctx.trx, ctx.tenantId!, { formKey: input.formKey, formVersion: form.version, layer: form.layer, subjectType: 'carer_household', subjectId: household.id, data: input.data, submittedBy: actorId(ctx) }));
  await ctx.audit({ action: 'carer_household.form_submitted', entityType: 'carer_household', entityId: household.id, after: { submission: { id: body.id, formKey: body.formKey, formVersion: body.formVersion, layer: body.layer } } });
  return { status: 201, body, headers: { Location: `/v1/form-submissions/${body.id}` } };
}
