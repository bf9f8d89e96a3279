/**
 * The carer portal as a front end uses it, with the SDK: a member of staff invites a household member
 * to the portal; the carer sets a password through the invitation's link (here read from the local dev
 * mailbox, where `npm start` delivers email when no SMTP server is configured) and logs in; then, as
 * the carer, lists their placements, submits a mileage claim and reads the remittance advice of the
 * latest payment run that paid them.
 *
 *   npx tsc -p examples/tsconfig.json && node dist/examples/examples/carer-portal.js
 *
 * Against `npm start` (http://127.0.0.1:3000, demo tenants, the dev mailbox in .hearth/mailbox);
 * HEARTH_URL, HEARTH_TENANT, HEARTH_EMAIL and HEARTH_PASSWORD (the member of staff) and
 * HEARTH_MAILBOX point it elsewhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
// In an app: import { ... } from '@hearth/sdk';
import { createHearthClient, unwrap } from '../sdk/src';
import { hearthUrl, runExample } from './cli';

const tenant = process.env.HEARTH_TENANT ?? 'demo-uk';
const mailbox = process.env.HEARTH_MAILBOX ?? path.join('.hearth', 'mailbox');

/** The token in the invitation's link, from the newest message to the address in the dev mailbox. */
async function invitationToken(address: string, waitMs = 60_000): Promise<string> {
  const folder = path.join(mailbox, address.toLowerCase().replace(/[^a-z0-9@._+-]/g, '_'));
  const until = Date.now() + waitMs;
  while (Date.now() < until) {
    const files = fs.existsSync(folder) ? fs.readdirSync(folder).filter((f) => f.endsWith('.eml')) : [];
    for (const file of files) {
      // The message body is quoted-printable: soft line breaks joined, `=3D` read as `=`.
      const text = fs
        .readFileSync(path.join(folder, file), 'utf8')
        .replace(/=\r?\n/g, '')
        .replace(/=3D/gi, '=');
      const token = /set-password#[^\s"<]*token=([A-Za-z0-9_-]+)/.exec(text)?.[1];
      if (token) return token;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`No invitation reached ${folder} within ${waitMs / 1000} s: is the job worker running?`);
}

async function main(): Promise<void> {
  // 1. Staff: invite an adult of a household with a child placed to the portal.
  const staff = createHearthClient({ baseUrl: hearthUrl });
  await staff.login({
    tenant,
    email: process.env.HEARTH_EMAIL ?? `admin@${tenant}.example`,
    password: process.env.HEARTH_PASSWORD ?? 'hearth-demo-password',
  });
  const placement = (await unwrap(staff.GET('/v1/placements', { params: { query: { status: 'active', limit: 1 } } })))
    .data[0];
  if (!placement) throw new Error('The tenant has no active placement to invite a carer of');
  const householdId = placement.householdId;
  const member = await unwrap(
    staff.POST('/v1/carer-households/{householdId}/members', {
      params: { path: { householdId } },
      body: { name: 'Sam Example', dateOfBirth: '1985-03-14', role: 'household_member', relationship: 'partner' },
    }),
  );
  const email = `sam.example.${randomUUID().slice(0, 8)}@example.org`;
  const login = await unwrap(
    staff.POST('/v1/carer-households/{householdId}/members/{memberId}/portal-access', {
      params: { path: { householdId, memberId: member.id } },
      body: { email },
    }),
  );
  console.log(`Invited ${login.displayName} <${login.email}> to the carer portal (${login.status})`);

  // 2. The carer: set a password through the invitation's link, then log in.
  const password = `a long password ${randomUUID()}`;
  const carer = createHearthClient({ baseUrl: hearthUrl });
  await unwrap(
    carer.POST('/v1/auth/password-reset/confirm', {
      body: { token: await invitationToken(email), newPassword: password },
    }),
  );
  await carer.login({ tenant, email, password });
  const me = await unwrap(carer.GET('/v1/portal'));
  console.log(`Logged in as a ${me.terms.carer ?? 'carer'} of household ${me.householdId}`);

  // 3. My placements, with the child's shared profile for the current one.
  const placements = (await unwrap(carer.GET('/v1/portal/placements'))).data;
  for (const p of placements)
    console.log(`  ${p.current ? 'current' : 'past'} placement of ${p.childName}, from ${p.startDate}`);
  const current = placements.find((p) => p.current);
  if (current) {
    const one = await unwrap(
      carer.GET('/v1/portal/placements/{placementId}', { params: { path: { placementId: current.id } } }),
    );
    console.log(`  shared about ${current.childName}: ${Object.keys(one.child ?? {}).join(', ') || 'nothing'}`);
  }

  // 4. A mileage claim: created as a draft, then submitted for the agency to decide.
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const claim = await unwrap(
    carer.POST('/v1/portal/claims', {
      body: {
        description: 'Contact visit',
        lines: [{ kind: 'mileage', date: yesterday, from: 'Home', to: 'Family centre', purpose: 'Contact', miles: 12 }],
      },
    }),
  );
  const submitted = await unwrap(
    carer.POST('/v1/portal/claims/{claimId}/submit', { params: { path: { claimId: claim.id } }, body: {} }),
  );
  console.log(`Claim ${submitted.id.slice(0, 8)}: ${submitted.status}, ${submitted.total} in minor units`);

  // 5. The remittance advice of the latest run that paid the household, if one has.
  const paid = (await unwrap(carer.GET('/v1/portal/payments', { params: { query: { limit: 1 } } }))).data[0];
  if (!paid) console.log('No payment run has paid this household yet: no remittance advice to read');
  else {
    const advice = await carer.GET('/v1/portal/payments/{runId}/remittance', {
      params: { path: { runId: paid.runId } },
      parseAs: 'text',
    });
    if (!advice.response.ok) throw new Error(`remittance advice: ${advice.response.status}`);
    console.log(
      `Remittance advice for ${paid.periodStart}..${paid.periodEnd}: ${String(advice.data).length} characters of HTML`,
    );
  }
  await carer.logout();
  console.log('Logged out');
}

runExample(main);
