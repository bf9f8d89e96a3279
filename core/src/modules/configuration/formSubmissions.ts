import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Knex } from 'knex';
import type { FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { iso } from '../../time';

/**
 * Form submissions: data checked against a version of one of the tenant's forms and stored with the
 * version and layer it was valid against. The configuration API (`POST /v1/form-submissions`) and the
 * modules whose records have forms of their own (a carer household's Form F) both store them here.
 */
export type FormSubjectType = 'child' | 'user' | 'carer_household' | 'placement';

export interface SubmissionRow {
  id: string;
  form_key: string;
  form_version: number;
  layer: string;
  subject_type: string;
  subject_id: string;
  data: Record<string, unknown>;
  submitted_by: string | null;
  submitted_at: Date;
}

const formAjv = new Ajv2020({ allErrors: true, strict: false });
addFormats(formAjv);
/** Compiled once per schema object: the effective configuration keeps its forms for the process. */
const compiled = new WeakMap<object, ValidateFunction>();

/** What is wrong with the data for the form, each fault at its pointer under `/body/data`. */
export function formDataErrors(schema: object, data: unknown): FieldError[] {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = formAjv.compile(schema);
    compiled.set(schema, validate);
  }
  if (validate(data)) return [];
  return (validate.errors ?? []).map((e) => {
    const extra = e.keyword === 'required' ? `/${(e.params as { missingProperty: string }).missingProperty}` : e.keyword === 'additionalProperties' ? `/${(e.params as { additionalProperty: string }).additionalProperty}` : '';
    return { pointer: `/body/data${e.instancePath}${extra}`, message: e.keyword === 'additionalProperties' ? 'is not a field of the form' : (e.message ?? 'is invalid'), code: e.keyword };
  });
}

export async function storeFormSubmission(
  trx: Knex.Transaction,
  tenantId: string,
  input: { formKey: string; formVersion: number; layer: string; subjectType: FormSubjectType; subjectId: string; data: Record<string, unknown>; submittedBy: string | null },
): Promise<SubmissionRow> {
  const [row] = (await trx('form_submissions')
    .insert({
      tenant_id: tenantId,
      id: newId(),
      form_key: input.formKey,
      form_version: input.formVersion,
      layer: input.layer,
      subject_type: input.subjectType,
      subject_id: input.subjectId,
      data: JSON.stringify(input.data),
      submitted_by: input.submittedBy,
    })
    .returning('*')) as SubmissionRow[];
  return row!;
}

export function submissionToApi(row: SubmissionRow) {
  return { id: row.id, formKey: row.form_key, formVersion: row.form_version, layer: row.layer, subjectType: row.subject_type, subjectId: row.subject_id, data: row.data, submittedBy: row.submitted_by, submittedAt: iso(row.submitted_at) };
}
