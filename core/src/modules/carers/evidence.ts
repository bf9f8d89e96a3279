import { actorId, type OperationResult, type TenantContext, type TenantScope } from '../../http/operation';
import { created } from '../../http/results';
import { Problem } from '../../http/problem';
import { newId } from '../../ids';
import { formDataErrors, storeFormSubmission, submissionToApi } from '../configuration/formSubmissions';
import { attachAsEvidence, categoryErrors, evidenceCategory, recordReceivedDocument } from '../documents/evidence';
import type { Document } from '../documents/models';
import { EVIDENCE_SUBJECTS } from './compliance';
import { CarerDecision } from './models';
import { configFor, decisionToApi, documentToApi, findHousehold } from './shared';

export async function recordCarerEvidenceDocument(
  ctx: TenantContext<'recordCarerEvidenceDocument'>,
): Promise<OperationResult> {
  const input = ctx.body;
  const household = await findHousehold(ctx, ctx.params.householdId, { lock: true });
  const { today } = await configFor(ctx);
  if (input.receivedOn > today)
    throw Problem.unprocessable([{ pointer: '/body/receivedOn', message: 'is in the future' }]);
  // Notes not sent leave an attached document's own.
  const evidence = { key: input.key, receivedOn: input.receivedOn, notes: input.notes };
  let document: Document;
  let before: Document | null = null;
  if (input.documentId) {
    const own = [
      ...(input.title !== undefined ? ['title'] : []),
      ...(input.category !== undefined ? ['category'] : []),
    ].map((field) => ({ pointer: `/body/${field}`, message: "is the document's own: not sent with documentId" }));
    if (own.length) throw Problem.unprocessable(own);
    ({ before, document } = await attachAsEvidence(ctx, input.documentId, {
      pointer: '/body/documentId',
      belongs: (d) => d.householdId === household.id && EVIDENCE_SUBJECTS.includes(d.subjectType),
      elsewhere: 'is not a document kept against this household, one of its members or one of its checks',
      evidence,
    }));
  } else {
    if (input.title === undefined)
      throw Problem.unprocessable([{ pointer: '/body/title', message: 'is required without documentId' }]);
    const errors = await categoryErrors(ctx, input.category, '/body/category');
    if (errors.length) throw Problem.unprocessable(errors);
    document = await recordReceivedDocument(ctx, {
      subjectType: 'household',
      subjectId: household.id,
      householdId: household.id,
      category: input.category ?? (await evidenceCategory(ctx, input.key, 'other')),
      title: input.title,
      evidence,
    });
  }
  const body = documentToApi(document);
  // The request's one event, on the household; an attached document's evidence as it was goes in `before`.
  await ctx.audit({
    action: 'carer_household.document_recorded',
    entityType: 'carer_household',
    entityId: household.id,
    ...(before
      ? {
          before: {
            document: { id: before.id, key: before.evidenceKey, receivedOn: before.receivedOn, notes: before.notes },
          },
        }
      : {}),
    after: { document: body },
  });
  return created(body, { location: `/v1/carer-households/${household.id}/documents/${body.id}` });
}

export interface DecisionInput {
  key: string;
  outcome?: string;
  decidedOn?: string;
  reasons?: string;
  facts?: Record<string, unknown>;
}

/** Stores a decision in the request's transaction (the caller audits). */
export async function insertDecision(
  ctx: TenantScope,
  entry: {
    householdId: string;
    decision: DecisionInput & { decidedOn: string };
    details?: Record<string, unknown>;
    panelId?: string;
  },
): Promise<CarerDecision> {
  const { decision } = entry;
  const { today } = await configFor(ctx);
  if (decision.decidedOn > today)
    throw Problem.unprocessable([{ pointer: '/body/decidedOn', message: 'is in the future' }]);
  return CarerDecision.query(ctx.trx)
    .insert({
      tenantId: ctx.tenantId,
      id: newId(),
      householdId: entry.householdId,
      key: decision.key,
      outcome: decision.outcome ?? null,
      decidedOn: decision.decidedOn,
      reasons: decision.reasons ?? null,
      facts: decision.facts ?? {},
      details: entry.details ?? {},
      panelId: entry.panelId ?? null,
      recordedBy: actorId(ctx),
    })
    .returning('*');
}

export async function recordCarerDecision(ctx: TenantContext<'recordCarerDecision'>): Promise<OperationResult> {
  const household = await findHousehold(ctx, ctx.params.householdId, { lock: true });
  const body = decisionToApi(await insertDecision(ctx, { householdId: household.id, decision: ctx.body }));
  await ctx.audit({
    action: 'carer_household.decision_recorded',
    entityType: 'carer_household',
    entityId: household.id,
    after: { decision: body },
  });
  return created(body, { location: `/v1/carer-households/${household.id}/decisions/${body.id}` });
}

/** Validated against the tenant's effective form and stored in form_submissions with the household as subject. */
export async function submitCarerHouseholdForm(
  ctx: TenantContext<'submitCarerHouseholdForm'>,
): Promise<OperationResult> {
  const input = ctx.body;
  const household = await findHousehold(ctx, ctx.params.householdId, { lock: true });
  const { forms } = await configFor(ctx);
  const versions = forms.get(input.formKey);
  if (!versions?.length)
    throw Problem.unprocessable([{ pointer: '/body/formKey', message: "is not a form of the tenant's configuration" }]);
  const form =
    input.formVersion === undefined
      ? versions[versions.length - 1]!
      : versions.find((v) => v.version === input.formVersion);
  if (!form) {
    const message = `is not a version of the form "${input.formKey}" (${versions.map((v) => v.version).join(', ')})`;
    throw Problem.unprocessable([{ pointer: '/body/formVersion', message }]);
  }
  const errors = formDataErrors(form.schema, input.data);
  if (errors.length) throw Problem.unprocessable(errors);
  const submission = await storeFormSubmission(ctx.trx, ctx.tenantId, {
    formKey: input.formKey,
    formVersion: form.version,
    layer: form.layer,
    subjectType: 'carer_household',
    subjectId: household.id,
    data: input.data,
    submittedBy: actorId(ctx),
  });
  const body = submissionToApi(submission);
  const recorded = { id: body.id, formKey: body.formKey, formVersion: body.formVersion, layer: body.layer };
  await ctx.audit({
    action: 'carer_household.form_submitted',
    entityType: 'carer_household',
    entityId: household.id,
    after: { submission: recorded },
  });
  return created(body, { location: `/v1/form-submissions/${body.id}` });
}
