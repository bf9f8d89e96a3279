import { ownerRows, startWorld, type TenantFixture, type World } from '../../../../test/support/harness';
import { daysFromToday, makeApprovedHousehold } from '../../../../test/support/fixtures/carers';
import { PDF } from '../../../../test/support/sampleFiles';

/**
 * Carer and claim evidence are documents (issue 12): what the carers and claims endpoints record is a
 * document of the household or the claim, read by the approval workflow and listed on the claim; a
 * document already uploaded can be made evidence by its id, when it is the caller's to see and kept
 * against the right record.
 */

let world: World;
let caseworker: { id: string; token: string };
beforeAll(async () => {
  world = await startWorld();
  caseworker = await world.addUser(world.a, ['caseworker']);
}, 120_000);
afterAll(async () => {
  await world?.close();
});

async function upload(
  fields: Record<string, string>,
  token = world.a.adminToken,
  expected = 201,
): Promise<{ id: string; currentVersion: { number: number } }> {
  const r = await world.call('uploadDocument', {
    token,
    multipart: { fields: { category: 'other', ...fields }, file: { filename: 'scan.pdf', bytes: PDF } },
  });
  expect(r.status).toBe(expected);
  return r.body;
}

async function getDocument(documentId: string, token = world.a.adminToken) {
  const r = await world.call('getDocument', { token, params: { documentId } });
  return r;
}

const pointers = (body: { errors?: Array<{ pointer: string }> }) => (body.errors ?? []).map((e) => e.pointer);

async function claimDocuments(tenant: TenantFixture, claimId: string) {
  return ownerRows<{ id: string; evidence_key: string | null }>(
    world.db,
    tenant.id,
    `SELECT id, evidence_key FROM documents WHERE subject_type = 'claim' AND subject_id = ? ORDER BY id`,
    [claimId],
  );
}

describe("a carer household's evidence", () => {
  test('recorded without a file, it is a document with no version, counted by the workflow, and takes its file later', async () => {
    const h = await makeApprovedHousehold({ world, tenant: world.a });
    const recorded = await world.call('recordCarerEvidenceDocument', {
      token: caseworker.token,
      params: { householdId: h.id },
      body: { key: 'resignation_notice', title: 'Resignation letter', receivedOn: daysFromToday(-3), notes: 'By post' },
    });
    expect(recorded.status).toBe(201);
    expect(recorded.body).toMatchObject({
      householdId: h.id,
      key: 'resignation_notice',
      title: 'Resignation letter',
      notes: 'By post',
      category: 'other',
      currentVersion: null,
      recordedBy: caseworker.id,
    });
    const document = await getDocument(recorded.body.id);
    expect(document.status).toBe(200);
    expect(document.body).toMatchObject({
      subjectType: 'household',
      subjectId: h.id,
      householdId: h.id,
      currentVersion: null,
      evidence: { key: 'resignation_notice', receivedOn: daysFromToday(-3), notes: 'By post' },
    });
    // The workflow reads it from the documents: the resignation's evidence is there.
    const approval = await world.call('getCarerApproval', { token: caseworker.token, params: { householdId: h.id } });
    const resign = approval.body.available.find((v: { transition: string }) => v.transition === 'resign');
    expect(resign.blockers.map((b: { kind: string }) => b.kind)).not.toContain('evidence');
    expect(approval.body.facts.daysSinceNoticeReceived).toBe(3);

    // The file comes later, as the document's first version.
    const version = await world.call('uploadDocumentVersion', {
      token: caseworker.token,
      params: { documentId: recorded.body.id },
      multipart: { fields: {}, file: { filename: 'letter.pdf', bytes: PDF } },
    });
    expect(version.status).toBe(201);
    expect(version.body).toMatchObject({ currentVersion: { number: 1 }, evidence: { key: 'resignation_notice' } });

    // A key that is a document category files the record under it.
    const reference = await world.call('recordCarerEvidenceDocument', {
      token: caseworker.token,
      params: { householdId: h.id },
      body: { key: 'reference', title: 'Reference from employer', receivedOn: daysFromToday(-1) },
    });
    expect(reference.body.category).toBe('reference');
    const audit = await ownerRows<{ action: string }>(
      world.db,
      world.a.id,
      `SELECT action FROM audit_events WHERE entity_id = ? ORDER BY seq`,
      [recorded.body.id],
    );
    // One event a request: the record was the household's event, the file the document's.
    expect(audit.map((a) => a.action)).toEqual(['document.version_uploaded']);
    const recordedOn = await ownerRows<{ after: { document: { id: string } } }>(
      world.db,
      world.a.id,
      `SELECT after FROM audit_events WHERE entity_id = ? AND action = 'carer_household.document_recorded'`,
      [h.id],
    );
    expect(recordedOn.map((e) => e.after.document.id)).toContain(recorded.body.id);
  });

  test('an uploaded document becomes evidence by its id: only one of the household the caller can see', async () => {
    const h = await makeApprovedHousehold({ world, tenant: world.a });
    const other = await makeApprovedHousehold({ world, tenant: world.a });
    const own = await upload({ subjectType: 'household', subjectId: h.id, title: 'Notice' });
    const before = await world.call('getCarerApproval', { token: caseworker.token, params: { householdId: h.id } });
    const blockedBefore = before.body.available.find((v: { transition: string }) => v.transition === 'resign');
    expect(blockedBefore.blockers.map((b: { kind: string }) => b.kind)).toContain('evidence');

    const [last] = await ownerRows<{ seq: string }>(world.db, world.a.id, `SELECT max(seq) AS seq FROM audit_events`);
    const attached = await world.call('recordCarerEvidenceDocument', {
      token: caseworker.token,
      params: { householdId: h.id },
      body: { documentId: own.id, key: 'resignation_notice', receivedOn: daysFromToday(-2) },
    });
    expect(attached.status).toBe(201);
    expect(attached.body).toMatchObject({ id: own.id, title: 'Notice', currentVersion: 1, key: 'resignation_notice' });
    const after = await world.call('getCarerApproval', { token: caseworker.token, params: { householdId: h.id } });
    const resign = after.body.available.find((v: { transition: string }) => v.transition === 'resign');
    expect(resign.blockers.map((b: { kind: string }) => b.kind)).not.toContain('evidence');
    const changed = await ownerRows<{ action: string; before: unknown; after: unknown }>(
      world.db,
      world.a.id,
      `SELECT action, before, after FROM audit_events WHERE seq > ? ORDER BY seq`,
      [last!.seq],
    );
    expect(changed).toEqual([
      {
        action: 'carer_household.document_recorded',
        before: { document: { id: own.id, key: null, receivedOn: null, notes: null } },
        after: { document: expect.objectContaining({ id: own.id, key: 'resignation_notice' }) },
      },
    ]);

    const attach = (body: Record<string, unknown>, token = caseworker.token, householdId = h.id) =>
      world.call('recordCarerEvidenceDocument', {
        token,
        params: { householdId },
        body: { key: 'resignation_notice', receivedOn: daysFromToday(-1), ...body },
      });
    // Another household's document, another tenant's, one the caller may not see, one that is not there.
    const elsewhere = await upload({ subjectType: 'household', subjectId: other.id, title: 'Theirs' });
    const confidential = await upload({
      subjectType: 'household',
      subjectId: h.id,
      title: 'Sealed',
      sensitivity: 'confidential',
    });
    const otherTenant = await makeApprovedHousehold({ world, tenant: world.b });
    const theirs = await upload(
      { subjectType: 'household', subjectId: otherTenant.id, title: 'Other tenant' },
      world.b.adminToken,
    );
    for (const documentId of [elsewhere.id, confidential.id, theirs.id, '01900000-0000-7000-8000-00000000ffff']) {
      const refused = await attach({ documentId });
      expect(refused.status).toBe(422);
      expect(pointers(refused.body)).toEqual(['/body/documentId']);
    }
    // The admin may see the confidential one: it is theirs to attach.
    expect((await attach({ documentId: confidential.id }, world.a.adminToken)).status).toBe(201);

    const withTitle = await attach({ documentId: own.id, title: 'Renamed' });
    expect(withTitle.status).toBe(422);
    expect(pointers(withTitle.body)).toEqual(['/body/title']);
    const untitled = await attach({});
    expect(untitled.status).toBe(422);
    expect(pointers(untitled.body)).toEqual(['/body/title']);
    const badCategory = await attach({ title: 'Letter', category: 'not_a_category' });
    expect(badCategory.status).toBe(422);
    expect(pointers(badCategory.body)).toEqual(['/body/category']);
    const untouched = await getDocument(elsewhere.id);
    expect(untouched.body.evidence).toBeNull();
  });
});

describe("a claim's evidence", () => {
  const journey = () => ({
    kind: 'mileage',
    date: daysFromToday(-3),
    from: 'Home',
    to: 'School',
    purpose: 'School run',
    miles: 4,
  });

  test('is documents of the claim: records of receipt, uploads attached by id; replaced, nothing is deleted', async () => {
    const h = await makeApprovedHousehold({ world, tenant: world.a }, { approvedOn: '2025-01-01' });
    const receipt = { key: 'receipt', title: 'Parking receipt', receivedOn: daysFromToday(-2) };
    const made = await world.call('createClaim', {
      token: caseworker.token,
      params: { householdId: h.id },
      body: { lines: [journey()], evidence: [receipt] },
    });
    expect(made.status).toBe(201);
    expect(made.body.evidence).toEqual([
      { id: expect.any(String), ...receipt, category: 'receipt', currentVersion: null },
    ]);
    const recordId = made.body.evidence[0].id;
    const record = await getDocument(recordId, caseworker.token);
    expect(record.body).toMatchObject({
      subjectType: 'claim',
      subjectId: made.body.id,
      householdId: h.id,
      currentVersion: null,
      evidence: { key: 'receipt', receivedOn: receipt.receivedOn },
    });

    const update = async (evidence: unknown[], token = caseworker.token) => {
      const current = await world.call('getClaim', { token, params: { claimId: made.body.id } });
      return world.call('updateClaim', {
        token,
        params: { claimId: made.body.id },
        headers: { 'If-Match': `"${current.body.version}"` },
        body: { evidence },
      });
    };
    // Sent again as it was, the same document: no new one.
    const same = await update([receipt]);
    expect(same.status).toBe(200);
    expect(same.body.evidence.map((e: { id: string }) => e.id)).toEqual([recordId]);
    expect(await claimDocuments(world.a, made.body.id)).toHaveLength(1);

    // A scan uploaded against the claim, attached by its id.
    const scan = await upload(
      { subjectType: 'claim', subjectId: made.body.id, title: 'Ticket scan' },
      caseworker.token,
    );
    const both = await update([receipt, { documentId: scan.id, key: 'ticket', receivedOn: daysFromToday(-1) }]);
    expect(both.status).toBe(200);
    expect(both.body.evidence).toEqual([
      { id: recordId, ...receipt, category: 'receipt', currentVersion: null },
      {
        id: scan.id,
        key: 'ticket',
        title: 'Ticket scan',
        receivedOn: daysFromToday(-1),
        category: 'other',
        currentVersion: 1,
      },
    ]);

    // Replaced without the record: it stays a document of the claim, no longer evidence.
    const onlyScan = await update([{ documentId: scan.id, key: 'ticket', receivedOn: daysFromToday(-1) }]);
    expect(onlyScan.body.evidence.map((e: { id: string }) => e.id)).toEqual([scan.id]);
    expect(await claimDocuments(world.a, made.body.id)).toEqual(
      [
        { id: recordId, evidence_key: null },
        { id: scan.id, evidence_key: 'ticket' },
      ].sort((a, b) => (a.id < b.id ? -1 : 1)),
    );
    expect((await getDocument(recordId)).body.evidence).toBeNull();

    // Refused, each naming its field: another claim's document, one the caller cannot see, a title with an id.
    const otherClaim = await world.call('createClaim', {
      token: caseworker.token,
      params: { householdId: h.id },
      body: { lines: [journey()] },
    });
    const otherScan = await upload({ subjectType: 'claim', subjectId: otherClaim.body.id, title: 'Not this one' });
    const sealed = await upload({
      subjectType: 'claim',
      subjectId: made.body.id,
      title: 'Sealed',
      sensitivity: 'confidential',
    });
    const householdDoc = await upload({ subjectType: 'household', subjectId: h.id, title: 'The household' });
    for (const documentId of [otherScan.id, sealed.id, householdDoc.id]) {
      const refused = await update([{ documentId, key: 'receipt', receivedOn: daysFromToday(-1) }]);
      expect(refused.status).toBe(422);
      expect(pointers(refused.body)).toEqual(['/body/evidence/0/documentId']);
    }
    const twice = await update([
      { documentId: scan.id, key: 'a', receivedOn: daysFromToday(-1) },
      { documentId: scan.id, key: 'b', receivedOn: daysFromToday(-1) },
    ]);
    expect(pointers(twice.body)).toEqual(['/body/evidence/1/documentId']);
    const titled = await update([{ documentId: scan.id, key: 'a', title: 'x', receivedOn: daysFromToday(-1) }]);
    expect(pointers(titled.body)).toEqual(['/body/evidence/0/title']);
    const untitled = await update([{ key: 'a', receivedOn: daysFromToday(-1) }]);
    expect(pointers(untitled.body)).toEqual(['/body/evidence/0/title']);
    // Nothing of those refusals was kept.
    expect(
      (await world.call('getClaim', { token: caseworker.token, params: { claimId: made.body.id } })).body.evidence,
    ).toHaveLength(1);

    // The confidential scan made evidence by the admin: the caseworker is not shown it, and may not replace it.
    expect(
      (await update([{ documentId: sealed.id, key: 'receipt', receivedOn: daysFromToday(-1) }], world.a.adminToken))
        .status,
    ).toBe(200);
    const shown = await world.call('getClaim', { token: caseworker.token, params: { claimId: made.body.id } });
    expect(shown.body.evidence).toEqual([]);
    const replace = await update([receipt]);
    expect(replace.status).toBe(403);
  });
});
