import { ownerRows, startWorld, type World } from '../../../../test/support/harness';

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

const amy = { givenName: 'Amy', familyName: 'Smith', dateOfBirth: '2015-03-04', sex: 'female', ethnicity: 'WBRI' };

async function createChild(token: string, body: Record<string, unknown> = amy, headers: Record<string, string> = {}) {
  return world.call('createChild', { token, body, headers });
}

describe('children, end to end', () => {
  it('creates, reads, updates with If-Match, and refuses a stale ETag', async () => {
    const created = await createChild(world.a.adminToken);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ...amy, status: 'referred', restricted: false, version: 1, deletedAt: null });
    expect(created.headers.get('etag')).toBe('"1"');
    const id = created.body.id as string;

    const read = await world.call('getChild', { token: world.a.adminToken, params: { childId: id } });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);

    const noIfMatch = await world.call('updateChild', {
      token: world.a.adminToken,
      params: { childId: id },
      body: { preferredName: 'Ames' },
    });
    expect(noIfMatch.status).toBe(428);

    const updated = await world.call('updateChild', {
      token: world.a.adminToken,
      params: { childId: id },
      body: { preferredName: 'Ames', status: 'in_care' },
      headers: { 'if-match': '"1"' },
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ preferredName: 'Ames', status: 'in_care', version: 2 });

    const stale = await world.call('updateChild', {
      token: world.a.adminToken,
      params: { childId: id },
      body: { preferredName: 'Lost update' },
      headers: { 'if-match': '"1"' },
    });
    expect(stale.status).toBe(412);
    expect(stale.body.type).toBe('https://hearth.dev/problems/precondition-failed');
    const [row] = await ownerRows<{ preferred_name: string }>(
      world.db,
      world.a.id,
      'SELECT preferred_name FROM children WHERE id = ?',
      [id],
    );
    expect(row!.preferred_name).toBe('Ames');
  });

  it('refuses codes outside the tenant lists, future births and unknown workers, naming each field', async () => {
    const response = await createChild(world.a.adminToken, {
      ...amy,
      sex: 'unknown-code',
      ethnicity: 'hispanic',
      dateOfBirth: '2999-01-01',
      allocatedWorkerId: '01900000-0000-7000-8000-000000000000',
    });
    expect(response.status).toBe(422);
    expect(response.body.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual([
      '/body/allocatedWorkerId',
      '/body/dateOfBirth',
      '/body/ethnicity',
      '/body/sex',
    ]);
    // The USA tenant's ethnicity list differs: its code is accepted there.
    const usa = await createChild(world.b.adminToken, { ...amy, ethnicity: 'hispanic' });
    expect(usa.status).toBe(201);
  });

  it('lists with filters and cursor pagination, never skipping or repeating', async () => {
    const worker = await world.addUser(world.a, ['caseworker']);
    const names = ['Ava', 'Ben', 'Cal', 'Dee', 'Eve'];
    for (const [i, givenName] of names.entries()) {
      const r = await createChild(world.a.adminToken, {
        ...amy,
        givenName,
        familyName: 'Pager',
        dateOfBirth: `201${i}-01-01`,
        allocatedWorkerId: i % 2 ? worker.id : null,
      });
      expect(r.status).toBe(201);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await world.call('listChildren', {
        token: world.a.adminToken,
        query: { q: 'pager', limit: 2, ...(cursor ? { cursor } : {}) },
      });
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((c: { givenName: string }) => c.givenName));
      cursor = page.body.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(names);

    const byWorker = await world.call('listChildren', { token: worker.token, query: { allocatedWorkerId: worker.id } });
    expect(byWorker.body.data.map((c: { givenName: string }) => c.givenName)).toEqual(['Ben', 'Dee']);
    const born = await world.call('listChildren', {
      token: world.a.adminToken,
      query: { q: 'Pager', bornFrom: '2011-06-01', bornTo: '2013-12-31' },
    });
    expect(born.body.data.map((c: { givenName: string }) => c.givenName)).toEqual(['Cal', 'Dee']);

    const badCursor = await world.call('listChildren', {
      token: world.a.adminToken,
      query: { cursor: 'bm90LWEtY3Vyc29y' },
    });
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.errors[0].pointer).toBe('/query/cursor');
    const typo = await world.call('listChildren', { token: world.a.adminToken, query: { stauts: 'in_care' } });
    expect(typo.status).toBe(400);
  });

  it('soft-deletes and restores, keeping who deleted it', async () => {
    const created = await createChild(world.a.adminToken, { ...amy, givenName: 'Del' });
    const id = created.body.id as string;
    const deleted = await world.call('deleteChild', {
      token: world.a.adminToken,
      params: { childId: id },
      headers: { 'if-match': '"1"' },
    });
    expect(deleted.status).toBe(200);
    expect(deleted.body.deletedBy).toBe(world.a.adminId);
    expect(deleted.body.deletedAt).not.toBeNull();

    const caseworker = await world.addUser(world.a, ['caseworker']);
    expect((await world.call('getChild', { token: caseworker.token, params: { childId: id } })).status).toBe(404);
    const listed = await world.call('listChildren', { token: world.a.adminToken, query: { q: 'Del' } });
    expect(listed.body.data).toHaveLength(0);
    const withDeleted = await world.call('listChildren', {
      token: world.a.adminToken,
      query: { q: 'Del', includeDeleted: true },
    });
    expect(withDeleted.body.data).toHaveLength(1);
    expect(
      (await world.call('listChildren', { token: caseworker.token, query: { includeDeleted: true } })).status,
    ).toBe(403);

    expect(
      (
        await world.call('deleteChild', {
          token: world.a.adminToken,
          params: { childId: id },
          headers: { 'if-match': '"2"' },
        })
      ).status,
    ).toBe(409);
    const restored = await world.call('restoreChild', { token: world.a.adminToken, params: { childId: id } });
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({ deletedAt: null, deletedBy: null, version: 3 });
    expect((await world.call('getChild', { token: caseworker.token, params: { childId: id } })).status).toBe(200);
  });

  it('hides a restricted record from everyone not named, and audits each read by those named', async () => {
    const supervisor = await world.addUser(world.a, ['supervisor']);
    const other = await world.addUser(world.a, ['supervisor']);
    const created = await createChild(supervisor.token, { ...amy, givenName: 'Rosa' });
    const id = created.body.id as string;

    const mustNameSelf = await world.call('setChildRestriction', {
      token: supervisor.token,
      params: { childId: id },
      body: { restricted: true, allowedUserIds: [other.id] },
      headers: { 'if-match': '"1"' },
    });
    expect(mustNameSelf.status).toBe(422);
    const set = await world.call('setChildRestriction', {
      token: supervisor.token,
      params: { childId: id },
      body: { restricted: true, allowedUserIds: [supervisor.id] },
      headers: { 'if-match': '"1"' },
    });
    expect(set.status).toBe(200);

    for (const token of [other.token, world.a.adminToken]) {
      expect((await world.call('getChild', { token, params: { childId: id } })).status).toBe(404);
      expect(
        (
          await world.call('updateChild', {
            token,
            params: { childId: id },
            body: { givenName: 'X' },
            headers: { 'if-match': '"2"' },
          })
        ).status,
      ).toBe(404);
      const list = await world.call('listChildren', { token, query: { q: 'Rosa' } });
      expect(list.body.data).toHaveLength(0);
    }

    const before = await ownerRows<{ n: number }>(
      world.db,
      world.a.id,
      `SELECT count(*)::int AS n FROM audit_events WHERE action = 'child.restricted_read' AND entity_id = ?`,
      [id],
    );
    expect((await world.call('getChild', { token: supervisor.token, params: { childId: id } })).status).toBe(200);
    expect(
      (await world.call('listChildren', { token: supervisor.token, query: { q: 'Rosa' } })).body.data,
    ).toHaveLength(1);
    const after = await ownerRows<{ n: number; actor_id: string }>(
      world.db,
      world.a.id,
      `SELECT count(*)::int AS n, max(actor_id) AS actor_id FROM audit_events WHERE action = 'child.restricted_read' AND entity_id = ?`,
      [id],
    );
    expect(after[0]!.n - before[0]!.n).toBe(2);
    expect(after[0]!.actor_id).toBe(supervisor.id);
  });

  it('replays a create with the same Idempotency-Key, and refuses the key for a different body', async () => {
    const headers = { 'idempotency-key': 'create-child-0001' };
    const first = await createChild(world.a.adminToken, { ...amy, givenName: 'Ida' }, headers);
    const second = await createChild(world.a.adminToken, { ...amy, givenName: 'Ida' }, headers);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const rows = await ownerRows<{ n: number }>(
      world.db,
      world.a.id,
      `SELECT count(*)::int AS n FROM children WHERE given_name = 'Ida'`,
    );
    expect(rows[0]!.n).toBe(1);
    const reused = await createChild(world.a.adminToken, { ...amy, givenName: 'Other' }, headers);
    expect(reused.status).toBe(422);
    expect(reused.body.type).toBe('https://hearth.dev/problems/idempotency-key-reused');
  });
});

describe('the fuller child record, duplicates and merging', () => {
  const nhs = '943 476 5919'; // a valid NHS number (modulus 11 check digit 9)

  it('keeps identifiers sealed, shows only their last four characters, and refuses an NHS number whose check digit is wrong', async () => {
    const created = await createChild(world.a.adminToken, {
      ...amy,
      givenName: 'Nia',
      gender: 'girl',
      language: 'Welsh',
      interpreterNeeded: true,
      religion: 'none',
      disabilities: ['hearing impairment'],
      identifiers: [{ kind: 'nhs_number', value: nhs }],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      gender: 'girl',
      language: 'Welsh',
      interpreterNeeded: true,
      disabilities: ['hearing impairment'],
      identifiers: [{ kind: 'nhs_number', lastFour: '5919' }],
      mergedInto: null,
    });
    const [stored] = await ownerRows<{ value_sealed: string; value_digest: string }>(
      world.db,
      world.a.id,
      'SELECT value_sealed, value_digest FROM child_identifiers WHERE child_id = ?',
      [created.body.id],
    );
    expect(stored!.value_sealed).not.toContain('9434765919');
    expect(stored!.value_digest).not.toContain('9434765919');
    const wrong = await createChild(world.a.adminToken, {
      ...amy,
      givenName: 'Wren',
      identifiers: [{ kind: 'nhs_number', value: '943 476 5918' }],
    });
    expect(wrong.status).toBe(422);
    expect(wrong.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/body/identifiers/0/value']);
  });

  it('detects a duplicate by name and date of birth, or by identifier, and creates it only when told to', async () => {
    const first = await createChild(world.a.adminToken, {
      ...amy,
      givenName: 'Dup',
      familyName: 'Licate',
      identifiers: [{ kind: 'upn', value: 'A123456789012' }],
    });
    expect(first.status).toBe(201);
    const byName = await createChild(world.a.adminToken, { ...amy, givenName: 'dup', familyName: 'LICATE' });
    expect(byName.status).toBe(409);
    expect(byName.body.duplicates).toEqual([{ id: first.body.id, reason: 'same_name_and_date_of_birth' }]);
    const byIdentifier = await createChild(world.a.adminToken, {
      ...amy,
      givenName: 'Other',
      familyName: 'Name',
      dateOfBirth: '2014-01-01',
      identifiers: [{ kind: 'upn', value: 'a123456789012' }],
    });
    expect(byIdentifier.status).toBe(409);
    expect(byIdentifier.body.duplicates).toEqual([{ id: first.body.id, reason: 'same_identifier' }]);
    const allowed = await createChild(world.a.adminToken, {
      ...amy,
      givenName: 'Dup',
      familyName: 'Licate',
      allowDuplicate: true,
    });
    expect(allowed.status).toBe(201);
    // Another tenant's records are never duplicates.
    expect(
      (await createChild(world.b.adminToken, { ...amy, givenName: 'Dup', familyName: 'Licate', ethnicity: 'hispanic' }))
        .status,
    ).toBe(201);
  });

  it('merges a duplicate into the surviving record, moving what it lacks and keeping both audit trails', async () => {
    const survivor = await createChild(world.a.adminToken, { ...amy, givenName: 'Mae', familyName: 'Merge' });
    const duplicate = await createChild(world.a.adminToken, {
      ...amy,
      givenName: 'Mae',
      familyName: 'Merge',
      allowDuplicate: true,
      identifiers: [{ kind: 'nhs_number', value: '401 023 2137' }],
    });
    expect(duplicate.status).toBe(201);
    const merged = await world.call('mergeChild', {
      token: world.a.adminToken,
      params: { childId: duplicate.body.id },
      body: { intoChildId: survivor.body.id },
    });
    expect(merged.status).toBe(200);
    expect(merged.body).toMatchObject({
      id: survivor.body.id,
      identifiers: [{ kind: 'nhs_number', lastFour: '2137' }],
    });
    const gone = await world.call('getChild', { token: world.a.adminToken, params: { childId: duplicate.body.id } });
    expect(gone.body).toMatchObject({ mergedInto: survivor.body.id });
    expect(gone.body.deletedAt).not.toBeNull();
    expect(
      (await world.call('restoreChild', { token: world.a.adminToken, params: { childId: duplicate.body.id } })).status,
    ).toBe(409);
    const trail = await ownerRows<{ entity_id: string; action: string }>(
      world.db,
      world.a.id,
      `SELECT entity_id, action FROM audit_events WHERE entity_id IN (?, ?) ORDER BY seq`,
      [duplicate.body.id, survivor.body.id],
    );
    expect(trail.map((e) => [e.entity_id === survivor.body.id ? 'survivor' : 'duplicate', e.action])).toEqual([
      ['survivor', 'child.created'],
      ['duplicate', 'child.created'],
      ['duplicate', 'child.merged'],
    ]);
    const self = await world.call('mergeChild', {
      token: world.a.adminToken,
      params: { childId: survivor.body.id },
      body: { intoChildId: survivor.body.id },
    });
    expect(self.status).toBe(422);
  });
});
