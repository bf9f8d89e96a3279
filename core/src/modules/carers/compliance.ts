import type { AnyQueryBuilder, QueryBuilder } from 'objection';
import { addMonths, ageOn } from '../../dates';
import type { FindScope } from '../../db/find';
import { CarerCheck, CarerHousehold, CarerHouseholdMember } from './models';
import { Document, type SubjectType } from '../documents/models';

export type { CheckStatus } from './models';

/** Age at which a household member counts as an adult (whose checks are required). */
export const ADULT_AGE = 18;

export interface ComplianceIssue {
  kind: 'missing' | 'expired' | 'unsatisfactory';
  checkType: string;
  memberId: string;
  detail: string;
}

export interface MemberCompliance {
  memberId: string;
  name: string;
  role: string;
  adult: boolean;
  issues: ComplianceIssue[];
}

export interface HouseholdCompliance {
  /** Every adult's required checks current, and none of the household's evidence documents expired. */
  compliant: boolean;
  requiredCheckTypes: string[];
  members: MemberCompliance[];
  issues: ComplianceIssue[];
  /** Required checks asked for (requested or received) but not yet judged satisfactory. */
  checksPending: number;
  /** Required checks judged unsatisfactory (with no satisfactory one beside them). */
  checksDisqualifying: number;
  /** Check types satisfactory and unexpired for every adult member (at least one adult). */
  satisfiedCheckTypes: string[];
  /** The lowest, over the applicants, of the hours recorded on their satisfactory checks. */
  trainingHours: number;
  /** The same, counting only checks completed in the year before the date. */
  annualTrainingHours: number;
  /** The household's own evidence documents whose expiry has come (each keeps it from being compliant). */
  expiredDocuments: ExpiredDocument[];
}

export interface ExpiredDocument {
  documentId: string;
  category: string;
  subjectType: 'household' | 'member' | 'check';
  subjectId: string;
  expiresOn: string;
}

/** Documents that are a household's own evidence: kept against it, one of its members, or one of its checks. */
export const EVIDENCE_SUBJECTS: SubjectType[] = ['household', 'member', 'check'];

/** Active evidence documents of the households whose expiry has come by `asOf` (expired on their day, as checks). */
function expiredEvidence(ctx: FindScope, households: string[] | HouseholdSelection, asOf: string) {
  return whereInHouseholds(Document.query(ctx.trx).alias('doc'), 'doc.household_id', households)
    .where('doc.tenant_id', ctx.tenantId)
    .where('doc.status', 'active')
    .whereIn('doc.subject_type', EVIDENCE_SUBJECTS)
    .where('doc.expires_on', '<=', asOf);
}

/** Households chosen by a query (matching's approved ones), where the caller has one rather than ids. */
export type HouseholdSelection = QueryBuilder<CarerHousehold, CarerHousehold[]>;

/** `column IN` the households, given as ids or as the query that chose them. */
function whereInHouseholds<QB extends AnyQueryBuilder>(
  query: QB,
  column: string,
  households: string[] | HouseholdSelection,
): QB {
  return Array.isArray(households) ? query.whereIn(column, households) : query.whereIn(column, households);
}

/** What a compliance question is about: the households, the check types they need, and the day. */
export interface ComplianceQuestion {
  householdIds: string[];
  requiredCheckTypes: string[];
  asOf: string;
  /** The query that chose the households, where the caller has one (see complianceOf). */
  householdQuery?: HouseholdSelection;
}

/**
 * Compliance of many households at once, in two queries (members, checks): for each adult member,
 * each required check type must have a satisfactory check that has not expired on `asOf` (a check
 * expires on its `expiresOn` day). A check recorded for the household (no member) counts for every
 * member. Members who have left the household by `asOf` are not counted.
 */
export async function complianceOf(
  ctx: FindScope,
  question: ComplianceQuestion,
): Promise<Map<string, HouseholdCompliance>> {
  const { householdIds, requiredCheckTypes, asOf, householdQuery } = question;
  const out = new Map<string, HouseholdCompliance>();
  if (!householdIds.length) return out;
  // The query that chose the households, where the caller has one: the planner joins on it, where a
  // list of two thousand ids would be two thousand parameters to parse and compare.
  const households = householdQuery ?? householdIds;
  const members = await whereInHouseholds(CarerHouseholdMember.query(ctx.trx), 'household_id', households)
    .where({ tenant_id: ctx.tenantId })
    .where((w) => w.whereNull('left_on').orWhere('left_on', '>', asOf))
    .orderBy(['household_id', 'id'])
    .select('id', 'household_id', 'name', 'role', 'date_of_birth');
  // Only the checks anything below reads: the required types, and those that record training hours.
  const checks = await whereInHouseholds(CarerCheck.query(ctx.trx), 'household_id', households)
    .where({ tenant_id: ctx.tenantId })
    .where((w) => w.whereIn('check_type', requiredCheckTypes).orWhereNotNull('hours'))
    .select(
      'id',
      'household_id',
      'member_id',
      'check_type',
      'status',
      'requested_on',
      'completed_on',
      'expires_on',
      'hours',
    );
  const checksBy = new Map<string, CarerCheck[]>();
  for (const c of checks) {
    const key = `${c.householdId}|${c.memberId ?? ''}`;
    const list = checksBy.get(key) ?? [];
    list.push(c);
    checksBy.set(key, list);
  }
  const since = addMonths(asOf, -12);
  for (const id of householdIds) {
    out.set(id, {
      compliant: false,
      requiredCheckTypes,
      members: [],
      issues: [],
      checksPending: 0,
      checksDisqualifying: 0,
      satisfiedCheckTypes: [],
      trainingHours: 0,
      annualTrainingHours: 0,
      expiredDocuments: [],
    });
  }
  const expired = await expiredEvidence(ctx, households, asOf)
    .orderBy(['doc.expires_on', 'doc.id'])
    .select('doc.id', 'doc.household_id', 'doc.category', 'doc.subject_type', 'doc.subject_id', 'doc.expires_on');
  for (const d of expired) {
    out.get(d.householdId!)?.expiredDocuments.push({
      documentId: d.id,
      category: d.category,
      subjectType: d.subjectType as ExpiredDocument['subjectType'],
      subjectId: d.subjectId,
      expiresOn: d.expiresOn!,
    });
  }
  const applicantHours = new Map<string, { all: number[]; annual: number[] }>();
  for (const m of members) {
    const h = out.get(m.householdId)!;
    const adult = ageOn(m.dateOfBirth, asOf) >= ADULT_AGE;
    const own = [...(checksBy.get(`${m.householdId}|${m.id}`) ?? []), ...(checksBy.get(`${m.householdId}|`) ?? [])];
    const member: MemberCompliance = { memberId: m.id, name: m.name, role: m.role, adult, issues: [] };
    if (adult) {
      for (const type of requiredCheckTypes) {
        const ofType = own.filter((c) => c.checkType === type);
        const satisfactory = ofType.filter((c) => c.status === 'satisfactory');
        const current = satisfactory.find((c) => c.expiresOn === null || c.expiresOn > asOf);
        if (current) continue;
        let issue: ComplianceIssue;
        if (satisfactory.length) {
          const latest = satisfactory
            .map((c) => c.expiresOn!)
            .sort()
            .pop()!;
          issue = {
            kind: 'expired',
            checkType: type,
            memberId: m.id,
            detail: `${type} for ${m.name} expired on ${latest}`,
          };
        } else if (ofType.some((c) => c.status === 'unsatisfactory')) {
          issue = {
            kind: 'unsatisfactory',
            checkType: type,
            memberId: m.id,
            detail: `${type} for ${m.name} is unsatisfactory`,
          };
          h.checksDisqualifying += 1;
        } else {
          const pending = ofType.find((c) => c.status === 'requested' || c.status === 'received');
          if (pending) h.checksPending += 1;
          const detail = pending
            ? `${type} for ${m.name} is ${pending.status}, not yet satisfactory`
            : `no ${type} check recorded for ${m.name}`;
          issue = { kind: 'missing', checkType: type, memberId: m.id, detail };
        }
        member.issues.push(issue);
        h.issues.push(issue);
      }
    }
    if (m.role === 'applicant') {
      const done = own.filter((c) => c.status === 'satisfactory' && c.hours !== null);
      const hours = applicantHours.get(m.householdId) ?? { all: [], annual: [] };
      hours.all.push(done.reduce((s, c) => s + Number(c.hours), 0));
      hours.annual.push(
        done
          .filter((c) => c.completedOn !== null && c.completedOn > since && c.completedOn <= asOf)
          .reduce((s, c) => s + Number(c.hours), 0),
      );
      applicantHours.set(m.householdId, hours);
    }
    h.members.push(member);
  }
  for (const [id, h] of out) {
    const adults = h.members.filter((m) => m.adult);
    h.compliant = adults.length > 0 && h.issues.length === 0 && h.expiredDocuments.length === 0;
    h.satisfiedCheckTypes = adults.length
      ? requiredCheckTypes.filter((t) => !h.issues.some((i) => i.checkType === t))
      : [];
    const hours = applicantHours.get(id);
    h.trainingHours = hours ? Math.min(...hours.all) : 0;
    h.annualTrainingHours = hours ? Math.min(...hours.annual) : 0;
  }
  return out;
}

/**
 * Which of the households are not compliant on `asOf`, by the rule of `complianceOf`, decided in the
 * database: an adult member still in the household lacks a current satisfactory check of a required
 * type (their own or the household's), or the household has no adult at all. Matching reads this for
 * every approved household; only the few it names need `complianceOf`'s detail.
 */
export async function nonCompliantAmong(
  ctx: FindScope,
  question: { households: string[] | HouseholdSelection; requiredCheckTypes: string[]; asOf: string },
): Promise<Set<string>> {
  const { households, requiredCheckTypes, asOf } = question;
  const { trx } = ctx;
  const adults = () =>
    CarerHouseholdMember.query(trx)
      .alias('m')
      .where('m.tenant_id', ctx.tenantId)
      .where((w) => w.whereNull('m.left_on').orWhere('m.left_on', '>', asOf))
      .whereRaw(`m.date_of_birth <= (?::date - interval '${ADULT_AGE} years')`, [asOf]);
  const lacking = await whereInHouseholds(adults(), 'm.household_id', households)
    .crossJoin(trx.raw('unnest(?::text[]) AS r(check_type)', [requiredCheckTypes]))
    .whereNotExists(
      CarerCheck.query(trx)
        .alias('c')
        .whereRaw('c.tenant_id = m.tenant_id AND c.household_id = m.household_id')
        .whereRaw('(c.member_id = m.id OR c.member_id IS NULL) AND c.check_type = r.check_type')
        .where('c.status', 'satisfactory')
        .where((w) => w.whereNull('c.expires_on').orWhere('c.expires_on', '>', asOf))
        .select(trx.raw('1')),
    )
    .distinct('m.household_id');
  const noAdult = await whereInHouseholds(CarerHousehold.query(trx).alias('h'), 'h.id', households)
    .where('h.tenant_id', ctx.tenantId)
    .whereNotExists(adults().whereRaw('m.household_id = h.id').select(trx.raw('1')))
    .select('h.id');
  const expiredIn = await expiredEvidence(ctx, households, asOf).distinct('doc.household_id');
  return new Set([
    ...lacking.map((r) => r.householdId),
    ...noAdult.map((r) => r.id),
    ...expiredIn.map((r) => r.householdId!),
  ]);
}
