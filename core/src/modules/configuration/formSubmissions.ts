import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Knex } from 'knex';
import type { FieldError } from '../../http/problem';
import { newId } from '../../ids';
import { findOne, type FindScope } from '../../db/find';
import { subjectVisible, type Fenced } from '../children/visibility';
import { FormSubmission } from './models';
import { iso } from '../../time';

/**
 * Form submissions: data checked against a version of one of the tenant's forms and stored with the
 * version and layer it was valid against. The configuration API (`POST /v1/form-submissions`) and the
 * modules whose records have forms of their own (a carer household's Form F) both store them here.
 */
export type FormSubjectType = 'child' | 'user' | 'carer_household' | 'placement';

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
    const extra =
      e.keyword === 'required'
        ? `/${(e.params as { missingProperty: string }).missingProperty}`
        : e.keyword === 'additionalProperties'
          ? `/${(e.params as { additionalProperty: string }).additionalProperty}`
          : '';
    return {
      pointer: `/body/data${e.instancePath}${extra}`,
      message: e.keyword === 'additionalProperties' ? 'is not a field of the form' : (e.message ?? 'is invalid'),
      code: e.keyword,
    };
  });
}

export async function storeFormSubmission(
  trx: Knex.Transaction,
  tenantId: string,
  input: {
    formKey: string;
    formVersion: number;
    layer: string;
    subjectType: FormSubjectType;
    subjectId: string;
    data: Record<string, unknown>;
    submittedBy: string | null;
  },
): Promise<FormSubmission> {
  return FormSubmission.query(trx)
    .insert({ tenantId, id: newId(), ...input })
    .returning('*');
}

/** A form submission of the tenant, or not found. */
/** A submission as the caller may see it: one about a restricted child (or its placement) is outside the fence. */
export function findFormSubmission(ctx: FindScope & Fenced, id: string): Promise<FormSubmission> {
  return findOne<FormSubmission>(ctx, FormSubmission, id, {
    narrow: (query) => query.where(subjectVisible(ctx, 'form_submissions.subject_type', 'form_submissions.subject_id')),
  });
}

export function submissionToApi(row: FormSubmission) {
  return {
    id: row.id,
    formKey: row.formKey,
    formVersion: row.formVersion,
    layer: row.layer,
    subjectType: row.subjectType,
    subjectId: row.subjectId,
    data: row.data,
    submittedBy: row.submittedBy,
    submittedAt: iso(row.submittedAt),
  };
}
