import { inTenantTransaction } from '../../db/tenantTransaction';
import { jobHandlers } from '../../jobs/handlers';
import { runDueJobs } from '../../jobs/worker';
import { ownerRows, startWorld, type World } from '../../../../test/support/harness';
import { daysFromToday } from '../../../../test/support/fixtures/carers';
import { makeCarer, makeDailyLog, type Carer } from '../../../../test/support/fixtures/portal';
import {
  carerUpload,
  householdTask,
  sharedDocument,
  validReviewViews,
} from '../../../../test/support/fixtures/portalDocuments';
import { queueNotification } from '../notifications/outbox';

let world: World;
let carer: Carer;
let other: Carer;
beforeAll(async () => {
  world = await startWorld();
  carer = await makeCarer({ world, tenant: world.a });
  other = await makeCarer({ world, tenant: world.a });
}, 300_000);
afterAll(async () => {
  await world?.close();
});

const ctxA = () => ({ world, tenant: world.a });
const as = (c: Carer, operationId: string, options: Record<string, unknown> = {}) =>
  world.call(operationId, { token: c.token, ...options });

async function auditOf(entityId: string) {
  return ownerRows<{ action: string; actor_id: string }>(
    world.db,
    world.a.id,
    'SELECT action, actor_id FROM audit_events WHERE tenant_id = ? AND entity_id = ? ORDER BY seq',
    [world.a.id, entityId],
  );
}

describe('the document centre', () => {
  it("lists the household's shared documents only, and streams one logged and audited as a staff download", async () => {
    const shared = await sharedDocument(ctxA(), carer);
    const staffOnly = await world.call('uploadDocument', {
      token: world.a.adminToken,
      multipart: {
        fields: { subjectType: 'household', subjectId: carer.householdId, category: 'correspondence', title: 'Notes' },
        file: { filename: 'notes.txt', bytes: 'Staff notes.\n', type: 'text/plain' },
      },
    });
    expect(staffOnly.status).toBe(201);
    const list = await as(carer, 'listPortalDocuments');
    expect(list.status).toBe(200);
    const ids = list.body.data.map((d: { id: string }) => d.id);
    expect(ids).toContain(shared.id);
    expect(ids).not.toContain(staffOnly.body.id);
    expect((await as(other, 'listPortalDocuments')).body.data.map((d: { id: string }) => d.id)).not.toContain(
      shared.id,
    );

    const download = await as(carer, 'downloadPortalDocument', { params: { documentId: shared.id } });
    expect(download.status).toBe(200);
    expect(download.text).toBe('A letter for the household.\n');
    const log = await ownerRows<{ actor_id: string; actor_type: string }>(
      world.db,
      world.a.id,
      'SELECT actor_id, actor_type FROM document_downloads WHERE tenant_id = ? AND document_id = ?',
      [world.a.id, shared.id],
    );
    expect(log).toEqual([{ actor_id: carer.userId, actor_type: 'user' }]);
    expect(await auditOf(shared.id)).toEqual([
      { action: 'document.uploaded', actor_id: expect.any(String) },
      { action: 'document.downloaded', actor_id: carer.userId },
    ]);

    for (const documentId of [shared.id, staffOnly.body.id]) {
      const refused = await as(other, 'downloadPortalDocument', { params: { documentId } });
      expect(refused.status).toBe(404);
    }
    expect((await as(carer, 'downloadPortalDocument', { params: { documentId: staffOnly.body.id } })).status).toBe(404);
  });

  it("a carer's upload is the household's, shared with it, seen by staff, and completes the upload task it names", async () => {
    const task = await householdTask(ctxA(), { kind: 'upload', title: 'Your insurance' }, carer);
    const document = await carerUpload(ctxA(), carer, task.id);
    const mine = (await as(carer, 'listPortalDocuments')).body.data.find((d: { id: string }) => d.id === document.id);
    expect(mine).toMatchObject({ fromHousehold: true, currentVersion: { filename: 'receipt.txt' } });
    const staff = await world.call('getDocument', { token: world.a.adminToken, params: { documentId: document.id } });
    expect(staff.body).toMatchObject({
      subjectType: 'household',
      householdId: carer.householdId,
      sensitivity: 'shared_with_household',
      createdBy: carer.userId,
    });
    const tasks = await as(carer, 'listPortalTasks', { query: { status: 'done' } });
    expect(tasks.body.data.find((t: { id: string }) => t.id === task.id)).toMatchObject({
      status: 'done',
      completedBy: carer.userId,
      completionDocumentId: document.id,
    });
    // A task done already, or another household's, is not one to complete.
    const again = await as(carer, 'uploadPortalDocument', {
      multipart: {
        fields: { category: 'correspondence', title: 'Again', taskId: task.id },
        file: { filename: 'r.txt', bytes: 'x\n', type: 'text/plain' },
      },
    });
    expect(again.status).toBe(422);
    expect(again.body.errors[0].pointer).toBe('/body/taskId');
    const badCategory = await as(carer, 'uploadPortalDocument', {
      multipart: {
        fields: { category: 'no_such_category', title: 'Bad' },
        file: { filename: 'r.txt', bytes: 'x\n', type: 'text/plain' },
      },
    });
    expect(badCategory.status).toBe(422);
    expect(badCategory.body.errors[0].pointer).toBe('/body/category');
  });

  it('attaches documents to a daily log, only the household’s own', async () => {
    const log = await makeDailyLog(ctxA(), carer);
    const document = await carerUpload(ctxA(), carer);
    const attached = await as(carer, 'attachPortalDailyLogDocument', {
      params: { logId: log.id },
      body: { documentId: document.id },
    });
    expect(attached.status).toBe(201);
    expect(attached.body.data.map((d: { id: string }) => d.id)).toEqual([document.id]);
    const listed = await as(carer, 'listPortalDailyLogDocuments', { params: { logId: log.id } });
    expect(listed.body.data.map((d: { id: string }) => d.id)).toEqual([document.id]);
    const theirs = await carerUpload(ctxA(), other);
    const refused = await as(carer, 'attachPortalDailyLogDocument', {
      params: { logId: log.id },
      body: { documentId: theirs.id },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.errors[0].pointer).toBe('/body/documentId');
    expect((await as(other, 'listPortalDailyLogDocuments', { params: { logId: log.id } })).status).toBe(404);
  });
});

describe("the tenant's upload limit", () => {
  it("holds for a carer's upload as for staff's (the portal's role reads the tenant's document settings)", async () => {
    const settings = await world.call('getDocumentSettings', { token: world.a.adminToken });
    const set = (maxUploadBytes: number, etag: string) =>
      world.call('updateDocumentSettings', {
        token: world.a.adminToken,
        headers: { 'if-match': etag },
        body: { maxUploadBytes },
      });
    const lowered = await set(1024, settings.headers.get('etag')!);
    expect(lowered.status).toBe(200);
    try {
      const r = await as(carer, 'uploadPortalDocument', {
        multipart: {
          fields: { category: 'correspondence', title: 'Too big' },
          file: { filename: 'big.txt', bytes: 'x'.repeat(4096), type: 'text/plain' },
        },
      });
      expect(r.status).toBe(413);
    } finally {
      expect((await set(settings.body.maxUploadBytes, lowered.headers.get('etag')!)).status).toBe(200);
    }
  });
});

describe('household tasks', () => {
  it('a carer acknowledges a shared document: who and when are recorded, once', async () => {
    const document = await sharedDocument(ctxA(), carer);
    const task = await householdTask(ctxA(), { kind: 'acknowledge', title: 'Read', documentId: document.id }, carer);
    expect((await as(other, 'acknowledgePortalTask', { params: { taskId: task.id } })).status).toBe(404);
    const done = await as(carer, 'acknowledgePortalTask', { params: { taskId: task.id } });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'done', completedBy: carer.userId, completedAt: expect.any(String) });
    const again = await as(carer, 'acknowledgePortalTask', { params: { taskId: task.id } });
    expect(again.body).toEqual(done.body);
    expect((await auditOf(task.id)).map((e) => e.action)).toEqual(['household_task.acknowledged']);
    expect((await auditOf(carer.householdId)).map((e) => e.action)).toContain('household_task.created');
    const staff = await world.call('listHouseholdTasks', {
      token: world.a.adminToken,
      params: { householdId: carer.householdId },
    });
    expect(staff.body.data.find((t: { id: string }) => t.id === task.id)).toMatchObject({ status: 'done' });
  });

  it('refuses a task naming a document not shared with the household, or a form carers may not complete', async () => {
    const theirs = await sharedDocument(ctxA(), other);
    const r = await world.call('createHouseholdTask', {
      token: world.a.adminToken,
      params: { householdId: carer.householdId },
      body: { kind: 'acknowledge', title: 'Read', documentId: theirs.id },
    });
    expect(r.status).toBe(422);
    expect(r.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/body/documentId']);
    const f = await world.call('createHouseholdTask', {
      token: world.a.adminToken,
      params: { householdId: carer.householdId },
      body: { kind: 'form', title: 'Fill in', formKey: 'form-f-stage1' },
    });
    expect(f.status).toBe(422);
    expect(f.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/body/formKey']);
  });
});

describe('carer forms', () => {
  it('saves a draft, resumes it, and submits it validated against its version, completing the form task', async () => {
    const forms = await as(carer, 'listPortalForms');
    expect(forms.body.data.map((f: { key: string }) => f.key)).toEqual(['carer-review-views']);
    const task = await householdTask(
      ctxA(),
      { kind: 'form', title: 'Your views', formKey: 'carer-review-views', dueDate: daysFromToday(10) },
      carer,
    );
    const draft = await as(carer, 'createPortalFormDraft', {
      body: { formKey: 'carer-review-views', taskId: task.id, data: { howTheYearWent: 'Busy' } },
    });
    expect(draft.status).toBe(201);
    expect(draft.body).toMatchObject({ formVersion: 1, status: 'draft', taskId: task.id });
    expect((await as(other, 'getPortalFormDraft', { params: { draftId: draft.body.id } })).status).toBe(404);

    const incomplete = await as(carer, 'submitPortalFormDraft', { params: { draftId: draft.body.id } });
    expect(incomplete.status).toBe(422);
    expect(incomplete.body.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual([
      '/body/data/periodFrom',
      '/body/data/periodTo',
      '/body/data/supportReceived',
    ]);
    const unconditional = await as(carer, 'savePortalFormDraft', {
      params: { draftId: draft.body.id },
      body: { data: validReviewViews },
    });
    expect(unconditional.status).toBe(428);
    const saved = await as(carer, 'savePortalFormDraft', {
      params: { draftId: draft.body.id },
      headers: { 'if-match': draft.headers.get('etag')! },
      body: { data: validReviewViews },
    });
    expect(saved.status).toBe(200);
    const stale = await as(carer, 'savePortalFormDraft', {
      params: { draftId: draft.body.id },
      headers: { 'if-match': draft.headers.get('etag')! },
      body: { data: {} },
    });
    expect(stale.status).toBe(412);
    const resumed = await as(carer, 'getPortalFormDraft', { params: { draftId: draft.body.id } });
    expect(resumed.body.data).toEqual(validReviewViews);

    const submitted = await as(carer, 'submitPortalFormDraft', { params: { draftId: draft.body.id } });
    expect(submitted.status).toBe(201);
    expect(submitted.body.status).toBe('submitted');
    const submission = await world.call('getFormSubmission', {
      token: world.a.adminToken,
      params: { submissionId: submitted.body.submissionId },
    });
    expect(submission.body).toMatchObject({
      formKey: 'carer-review-views',
      formVersion: 1,
      subjectType: 'carer_household',
      subjectId: carer.householdId,
      submittedBy: carer.userId,
      data: validReviewViews,
    });
    const tasks = await as(carer, 'listPortalTasks');
    expect(tasks.body.data.find((t: { id: string }) => t.id === task.id)).toMatchObject({
      status: 'done',
      formSubmissionId: submitted.body.submissionId,
    });
    expect((await as(carer, 'submitPortalFormDraft', { params: { draftId: draft.body.id } })).status).toBe(409);
    expect(
      (
        await as(carer, 'savePortalFormDraft', {
          params: { draftId: draft.body.id },
          headers: { 'if-match': saved.headers.get('etag')! },
          body: { data: {} },
        })
      ).status,
    ).toBe(409);
  });

  it('refuses a form carers may not complete', async () => {
    const r = await as(carer, 'createPortalFormDraft', { body: { formKey: 'carer-annual-review' } });
    expect(r.status).toBe(422);
    expect(r.body.errors[0].pointer).toBe('/body/formKey');
  });
});

describe('the inbox', () => {
  it("a carer reads their own in-app messages and marks them read; another carer's are not theirs", async () => {
    const [id = ''] = await inTenantTransaction(world.db, { tenantId: world.a.id }, (trx) =>
      queueNotification(
        { trx, tenantId: world.a.id },
        {
          event: 'tasks.assigned',
          occurrence: `portal-${carer.userId}`,
          recipients: [{ userId: carer.userId, name: 'Carer' }],
          data: { dueDate: '2027-01-05' },
          link: '/portal/tasks',
        },
      ),
    );
    await runDueJobs(world.db, { handlers: jobHandlers(), services: world.server.services, backoffMs: () => 0 });
    const inbox = await as(carer, 'listInbox', { query: { unread: true } });
    expect(inbox.status).toBe(200);
    expect(inbox.body.data.map((m: { id: string }) => m.id)).toContain(id);
    expect((await as(other, 'listInbox')).body.data.map((m: { id: string }) => m.id)).not.toContain(id);
    expect((await as(other, 'markInboxMessageRead', { params: { messageId: id } })).status).toBe(404);
    const read = await as(carer, 'markInboxMessageRead', { params: { messageId: id } });
    expect(read.status).toBe(200);
    expect(read.body.readAt).toEqual(expect.any(String));
  });
});
