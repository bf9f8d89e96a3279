import type { Knex } from 'knex';
import { queueNotification, type OutboxScope, type Recipient } from './outbox';

/*
 * The domain's notifications, each called from the write that causes it, in its transaction. What
 * travels is ids, dates, amounts' absence and a link: never a child's name or anything else about a
 * child, since a message leaves Hearth (the outbox says so too).
 */

type Scope = { trx: Knex.Transaction; tenantId: string };

const short = (id: string) => id.slice(0, 8);

/** Active users among the ids, as recipients (their inbox, email and SMS number). */
export async function userRecipients(scope: Scope, ids: Array<string | null | undefined>): Promise<Recipient[]> {
  const wanted = [...new Set(ids.filter((id): id is string => !!id))];
  if (!wanted.length) return [];
  const rows = (await scope
    .trx('users')
    .where({ tenant_id: scope.tenantId, status: 'active' })
    .whereIn('id', wanted)
    .select('id', 'email', 'display_name')) as Array<{ id: string; email: string; display_name: string }>;
  return rows.map((r) => ({ userId: r.id, email: r.email, name: r.display_name }));
}

/**
 * The carers of each household who can use the portal today (an active login, still a member, the
 * household open and approved): they hear in their inbox and at their own address.
 */
async function carerLogins(
  scope: Scope,
  householdIds: string[],
): Promise<Array<{ householdId: string; userId: string; email: string; name: string }>> {
  if (!householdIds.length) return [];
  return (await scope
    .trx('carer_logins as l')
    .join('users as u', function joinUser() {
      this.on('u.tenant_id', 'l.tenant_id').andOn('u.id', 'l.user_id');
    })
    .join('carer_household_members as m', function joinMember() {
      this.on('m.tenant_id', 'l.tenant_id').andOn('m.id', 'l.member_id');
    })
    .join('carer_households as h', function joinHousehold() {
      this.on('h.tenant_id', 'l.tenant_id').andOn('h.id', 'l.household_id');
    })
    .where('l.tenant_id', scope.tenantId)
    .whereIn('l.household_id', householdIds)
    .where('u.status', 'active')
    .whereNot('h.status', 'closed')
    .whereRaw('(m.left_on IS NULL OR m.left_on > current_date)')
    .whereRaw('(h.approval_ended_on IS NULL OR h.approval_ended_on > current_date)')
    .orderBy(['l.household_id', 'l.user_id'])
    .select('l.household_id as householdId', 'u.id as userId', 'u.email', 'u.display_name as name')) as Array<{
    householdId: string;
    userId: string;
    email: string;
    name: string;
  }>;
}

/** The household: its own address where it has one, and each carer with a portal login. */
async function householdRecipient(scope: Scope, householdId: string): Promise<Recipient[]> {
  const row = (await scope
    .trx('carer_households')
    .where({ tenant_id: scope.tenantId, id: householdId })
    .first('email', 'name')) as { email: string | null; name: string } | undefined;
  const carers = await carerLogins(scope, [householdId]);
  return [
    ...(row?.email ? [{ email: row.email, name: row.name }] : []),
    ...carers.map((c) => ({ userId: c.userId, email: c.email, name: c.name })),
  ];
}

/** `claims.decided`: to who submitted the claim, and to the household's address. */
export async function notifyClaimDecided(
  scope: OutboxScope,
  claim: { id: string; householdId: string; submittedBy: string | null },
  decision: 'approved' | 'rejected',
): Promise<string[]> {
  const recipients = [
    ...(await userRecipients(scope, [claim.submittedBy])),
    ...(await householdRecipient(scope, claim.householdId)),
  ];
  return queueNotification(scope, {
    event: 'claims.decided',
    occurrence: `${claim.id}:${decision}`,
    recipients,
    data: { decision, claimId: claim.id },
    link: `/claims/${claim.id}`,
    reference: short(claim.id),
    records: { claimId: claim.id, householdId: claim.householdId },
  });
}

/** How many households' remittance messages are planned per outbox call: memory stays flat in the run's size. */
const REMITTANCE_BATCH = 2000;

/**
 * A finalised run: `payments.run_finalised` to who calculated, approved and finalised it, and
 * `payments.remittance_ready` to every household it paid that has an address or a carer with a portal login. The households are read
 * in keyset batches and written by the outbox in chunks (a few statements per thousand households,
 * not a round trip each).
 */
export async function notifyPaymentRunFinalised(
  scope: OutboxScope,
  run: {
    id: string;
    reference: string;
    periodStart: string;
    periodEnd: string;
    paymentDate: string;
    /** The calculation the run was finalised on: lines of earlier ones paid nothing. */
    calculationNumber: number;
    calculatedBy: string | null;
    approvedBy: string | null;
    finalisedBy: string | null;
  },
): Promise<{ finance: number; remittances: number }> {
  const finance = await queueNotification(scope, {
    event: 'payments.run_finalised',
    occurrence: run.id,
    recipients: await userRecipients(scope, [run.calculatedBy, run.approvedBy, run.finalisedBy]),
    data: { periodStart: run.periodStart, periodEnd: run.periodEnd, paymentDate: run.paymentDate },
    link: `/payment-runs/${run.id}`,
    reference: run.reference,
    records: { paymentRunId: run.id },
  });
  let remittances = 0;
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const households = (await scope
      .trx('carer_households as h')
      .where('h.tenant_id', scope.tenantId)
      .where((w) =>
        w
          .whereNotNull('h.email')
          .orWhereExists((q) =>
            q
              .select(scope.trx.raw('1'))
              .from('carer_logins as cl')
              .whereRaw('cl.tenant_id = h.tenant_id AND cl.household_id = h.id'),
          ),
      )
      .where('h.id', '>', after)
      .whereExists((q) =>
        q
          .select(scope.trx.raw('1'))
          .from('payment_lines as l')
          .whereRaw('l.tenant_id = h.tenant_id AND l.household_id = h.id')
          .where({ 'l.run_id': run.id, 'l.calculation': run.calculationNumber }),
      )
      .orderBy('h.id')
      .limit(REMITTANCE_BATCH)
      .select('h.id', 'h.email', 'h.name')) as Array<{ id: string; email: string | null; name: string }>;
    if (!households.length) break;
    after = households[households.length - 1]!.id;
    const carers = await carerLogins(
      scope,
      households.map((h) => h.id),
    );
    const perHousehold = (h: { id: string }) => ({
      link: `/payment-runs/${run.id}/households/${h.id}/remittance`,
      reference: `${run.reference}-${short(h.id)}`,
      records: { paymentRunId: run.id, householdId: h.id },
    });
    const written = await queueNotification(scope, {
      event: 'payments.remittance_ready',
      occurrence: run.id,
      recipients: [
        ...households
          .filter((h) => h.email)
          .map((h) => ({ email: h.email, name: h.name, occurrence: `${run.id}:${h.id}`, ...perHousehold(h) })),
        // Each carer of the household with a portal login: their own message (inbox and address).
        ...carers.map((c) => ({
          userId: c.userId,
          email: c.email,
          name: c.name,
          occurrence: `${run.id}:${c.householdId}:${c.userId}`,
          ...perHousehold({ id: c.householdId }),
          link: '/portal/payments',
        })),
      ],
      data: { paymentDate: run.paymentDate, periodStart: run.periodStart, periodEnd: run.periodEnd },
    });
    remittances += written.length;
    if (households.length < REMITTANCE_BATCH) break;
  }
  return { finance: finance.length, remittances };
}

/** `carers.panel_date_set`: the household is on a panel's agenda, so it has a date. */
export async function notifyPanelDateSet(
  scope: OutboxScope,
  item: { id: string; householdId: string; panelId: string; panelDate: string },
): Promise<string[]> {
  return queueNotification(scope, {
    event: 'carers.panel_date_set',
    occurrence: `${item.id}:${item.panelDate}`,
    recipients: await householdRecipient(scope, item.householdId),
    data: { panelDate: item.panelDate },
    link: `/carer-panels/${item.panelId}`,
    reference: short(item.panelId),
    records: { householdId: item.householdId },
  });
}

/** Case records that are a safeguarding concern: the child's allocated worker hears at once, whatever they chose. */
export const SAFEGUARDING_RECORD_KINDS: ReadonlySet<string> = new Set(['safeguarding_incident', 'missing_episode']);

/** `children.safeguarding_alert` (critical): a safeguarding incident or a missing episode recorded on a child. */
export async function notifySafeguardingAlert(
  scope: OutboxScope,
  record: { id: string; kind: string; childId: string; allocatedWorkerId: string | null },
): Promise<string[]> {
  return queueNotification(scope, {
    event: 'children.safeguarding_alert',
    occurrence: record.id,
    recipients: await userRecipients(scope, [record.allocatedWorkerId]),
    data: { kind: record.kind },
    link: `/children/${record.childId}/records/${record.id}`,
    reference: short(record.id),
    records: { childId: record.childId },
  });
}

/** `webhook_endpoint.disabled`: to everyone who manages the tenant's webhooks (its administrators). */
export async function notifyWebhookEndpointDisabled(
  scope: OutboxScope,
  endpoint: { id: string; url: string; failingSince: string },
): Promise<string[]> {
  const admins = (await scope
    .trx('users as u')
    .join('user_roles as ur', function joinRoles() {
      this.on('ur.tenant_id', '=', 'u.tenant_id').andOn('ur.user_id', '=', 'u.id');
    })
    .join('roles as r', function joinRole() {
      this.on('r.tenant_id', '=', 'ur.tenant_id').andOn('r.id', '=', 'ur.role_id');
    })
    .where({ 'u.tenant_id': scope.tenantId, 'u.status': 'active' })
    .whereRaw(`'webhooks:manage' = ANY (r.permissions)`)
    .distinct('u.id')
    .select()) as Array<{ id: string }>;
  return queueNotification(scope, {
    event: 'webhook_endpoint.disabled',
    occurrence: `${endpoint.id}:${endpoint.failingSince}`,
    recipients: await userRecipients(
      scope,
      admins.map((a) => a.id),
    ),
    data: { url: endpoint.url, failingSince: endpoint.failingSince },
    link: `/webhook-endpoints/${endpoint.id}`,
    reference: short(endpoint.id),
  });
}
