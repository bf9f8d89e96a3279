import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { seal } from '../../crypto/secretBox';
import type { FieldError } from '../../http/problem';
import { ChildIdentifier } from './models';

export interface IdentifierInput {
  kind: 'nhs_number' | 'upn' | 'state_id' | 'medicaid_id';
  value: string;
}

export function normaliseIdentifier(value: string): string {
  return value.replace(/[\s-]/g, '').toUpperCase();
}

/** An NHS number is 10 digits whose last is a modulus 11 check digit (NHS Data Dictionary). */
export function validNhsNumber(value: string): boolean {
  if (!/^[0-9]{10}$/.test(value)) return false;
  const sum = [...value.slice(0, 9)].reduce((total, digit, i) => total + Number(digit) * (10 - i), 0);
  const check = 11 - (sum % 11);
  const expected = check === 11 ? 0 : check;
  return expected !== 10 && expected === Number(value[9]);
}

/**
 * A keyed digest, so duplicates can be found by identifier without the database ever holding the
 * identifier in clear (the sealed copy needs the data key to open).
 */
export function identifierDigest(dataKey: Buffer, kind: string, normalised: string): string {
  return crypto.createHmac('sha256', dataKey).update(`${kind}:${normalised}`).digest('hex');
}

export function identifierErrors(identifiers: IdentifierInput[] | undefined, pointer: string): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  (identifiers ?? []).forEach((identifier, i) => {
    if (seen.has(identifier.kind)) errors.push({ pointer: `${pointer}/${i}/kind`, message: 'is given twice' });
    seen.add(identifier.kind);
    if (identifier.kind === 'nhs_number' && !validNhsNumber(normaliseIdentifier(identifier.value))) {
      errors.push({
        pointer: `${pointer}/${i}/value`,
        message: 'is not a valid NHS number (10 digits with a modulus 11 check digit)',
      });
    }
  });
  return errors;
}

/** Stores identifiers for a child; each kind given replaces the one held. */
export async function saveIdentifiers(
  trx: Knex.Transaction,
  dataKey: Buffer,
  tenantId: string,
  childId: string,
  identifiers: IdentifierInput[],
): Promise<void> {
  for (const identifier of identifiers) {
    const normalised = normaliseIdentifier(identifier.value);
    await ChildIdentifier.query(trx).where({ tenant_id: tenantId, child_id: childId, kind: identifier.kind }).delete();
    await ChildIdentifier.query(trx).insert({
      tenantId,
      childId,
      kind: identifier.kind,
      valueSealed: seal(dataKey, normalised),
      valueDigest: identifierDigest(dataKey, identifier.kind, normalised),
      lastFour: normalised.slice(-4),
    });
  }
}

/**
 * The masked identifiers of the child aliased `c`, as a column of the child's own query (a JSON list,
 * ordered as maskedIdentifiers orders them): a read of one child then costs one statement, not two.
 */
export function maskedIdentifiersColumn(trx: Knex.Transaction): Knex.Raw {
  return trx.raw(
    `coalesce((SELECT json_agg(json_build_object('kind', i.kind, 'lastFour', i.last_four) ORDER BY i.kind)
                 FROM child_identifiers i WHERE i.tenant_id = c.tenant_id AND i.child_id = c.id), '[]'::json) AS masked_identifiers`,
  );
}

/** The masked identifiers of each child, for reads: kind and last four characters only. */
export async function maskedIdentifiers(
  trx: Knex.Transaction,
  tenantId: string,
  childIds: string[],
): Promise<Map<string, Array<{ kind: string; lastFour: string }>>> {
  const out = new Map<string, Array<{ kind: string; lastFour: string }>>(childIds.map((id) => [id, []]));
  if (!childIds.length) return out;
  const rows = await ChildIdentifier.query(trx)
    .where('tenant_id', tenantId)
    .whereIn('child_id', childIds)
    .orderBy('kind')
    .select('child_id', 'kind', 'last_four');
  for (const row of rows) out.get(row.childId)?.push({ kind: row.kind, lastFour: row.lastFour });
  return out;
}
