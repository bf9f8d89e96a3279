import crypto from 'node:crypto';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import type { Knex } from 'knex';
import { ZipFile } from 'yazl';
import type { Permission } from '../../access/permissions';
import type { Principal, TenantScope } from '../../http/operation';
import { newId } from '../../ids';
import type { JobContext, JobHandler } from '../../jobs/worker';
import { EvidencePack } from './evidencePackModel';
import { evidencePackToApi } from './evidencePacks';
import { DocumentVersion } from './models';
import { documentStore } from './openStore';
import { cleanFilename } from './receive';
import { createDocument } from './service';
import { objectKey } from './storage';

/** What manifest.json says of each file. */
interface ManifestFile {
  path: string;
  sha256: string;
  size: number;
  kind: 'document' | 'decisions' | 'audit_events';
  description: string;
}

/** Counts and hashes what passes, for the manifest. */
class Measure extends Transform {
  readonly hash = crypto.createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }
}

/** Audit events are read a page at a time: the pack never holds the trail. */
const AUDIT_PAGE = 500;
/** The pack's row is told its progress this often (each a transaction of its own). */
const PROGRESS_EVERY = 25;

/**
 * The job's stand-in for whoever asked: the store and the document are theirs, and the fence is
 * theirs (a restricted child is visible only to a user named on it, never to an API key). It can
 * read the two kinds of record a pack is of, nothing else.
 */
function requesterPrincipal(pack: EvidencePack, tenantId: string): Principal {
  const permissions = new Set<Permission>(['carers:read', 'children:read']);
  return pack.requestedByType === 'user'
    ? {
        kind: 'user',
        id: pack.requestedBy,
        tenantId,
        tenantSlug: '',
        platform: false,
        email: '',
        displayName: '',
        roles: [],
        permissions,
        scope: 'full',
        mfaEnabled: false,
      }
    : { kind: 'api_key', id: pack.requestedBy, tenantId, tenantSlug: '', platform: false, permissions };
}

function jobScope(ctx: JobContext, trx: Knex.Transaction, pack: EvidencePack): TenantScope {
  return {
    trx,
    services: ctx.services,
    tenantId: ctx.tenantId,
    principal: requesterPrincipal(pack, ctx.tenantId),
    meta: { requestId: `job-${ctx.job.id}`, ip: null, userAgent: null },
    audit: (event) => ctx.audit(trx, event),
  };
}

/** The decisions on the record in the period, as they stood at the snapshot. */
async function decisionsOf(trx: Knex.Transaction, pack: EvidencePack): Promise<unknown> {
  const t = pack.tenantId;
  const at = pack.snapshotAt;
  if (pack.subjectType === 'household') {
    const decisions = await trx('carer_decisions')
      .where({ tenant_id: t, household_id: pack.subjectId })
      .whereBetween('decided_on', [pack.periodFrom, pack.periodTo])
      .where('created_at', '<=', at)
      .orderBy(['decided_on', 'created_at', 'id'])
      .select('id', 'key', 'outcome', 'decided_on', 'reasons', 'facts', 'details', 'panel_id', 'recorded_by');
    const steps = await trx('carer_approval_steps')
      .where({ tenant_id: t, household_id: pack.subjectId })
      .whereBetween('occurred_on', [pack.periodFrom, pack.periodTo])
      .where('created_at', '<=', at)
      .orderBy(['occurred_on', 'created_at', 'id'])
      .select('id', 'workflow_key', 'transition', 'from_state', 'to_state', 'occurred_on', 'note', 'decision_id');
    const terms = await trx('carer_approval_terms')
      .where({ tenant_id: t, household_id: pack.subjectId })
      .whereBetween('effective_from', [pack.periodFrom, pack.periodTo])
      .where('created_at', '<=', at)
      .orderBy(['effective_from', 'created_at', 'id'])
      .select('id', 'effective_from', 'max_children', 'age_min', 'age_max', 'placement_kinds', 'carer_level', 'notes');
    return { decisions, approvalSteps: steps, approvalTerms: terms };
  }
  const steps = await trx('placement_workflow_steps as s')
    .join('placements as p', (j) => j.on('p.tenant_id', 's.tenant_id').andOn('p.id', 's.placement_id'))
    .where({ 's.tenant_id': t, 'p.child_id': pack.subjectId })
    .where('s.taken_at', '>=', `${pack.periodFrom}T00:00:00Z`)
    .where('s.taken_at', '<', trx.raw(`(?::date + 1)::timestamptz`, [pack.periodTo]))
    .where('s.taken_at', '<=', at)
    .orderBy(['s.taken_at', 's.id'])
    .select('s.id', 's.placement_id', 's.transition', 's.from_state', 's.to_state', 's.notes', 's.taken_at');
  return { placementSteps: steps };
}

/** The entities whose audit events a pack holds: the record itself, its documents, a child's placements. */
async function auditedEntities(trx: Knex.Transaction, pack: EvidencePack): Promise<Array<[string, string[]]>> {
  const documents = pack.snapshotDocuments.map((d) => d.documentId);
  if (pack.subjectType === 'household')
    return [
      ['carer_household', [pack.subjectId]],
      ['document', documents],
    ];
  const placements = (await trx('placements')
    .where({ tenant_id: pack.tenantId, child_id: pack.subjectId })
    .orderBy('id')
    .pluck('id')) as string[];
  return [
    ['child', [pack.subjectId]],
    ['placement', placements],
    ['document', documents],
  ];
}

/** The period's events on those entities up to the snapshot's sequence number, one JSON line each, read by pages. */
function auditLines(ctx: JobContext, pack: EvidencePack, entities: Array<[string, string[]]>): Readable {
  async function* lines(): AsyncGenerator<Buffer> {
    let after = 0;
    for (;;) {
      const page = (await ctx.inTenant((trx) =>
        trx('audit_events')
          .where('tenant_id', pack.tenantId)
          .where('seq', '>', after)
          .where('seq', '<=', Number(pack.snapshotSeq))
          .where('occurred_at', '>=', `${pack.periodFrom}T00:00:00Z`)
          .where('occurred_at', '<', trx.raw(`(?::date + 1)::timestamptz`, [pack.periodTo]))
          .where((q) => {
            for (const [type, ids] of entities)
              if (ids.length) q.orWhere((w) => w.where('entity_type', type).whereIn('entity_id', ids));
          })
          .orderBy('seq')
          .limit(AUDIT_PAGE)
          .select(
            'seq',
            'id',
            'occurred_at',
            'actor_type',
            'actor_id',
            'action',
            'entity_type',
            'entity_id',
            'before',
            'after',
            'hash',
          ),
      )) as Array<{ seq: number; occurred_at: Date } & Record<string, unknown>>;
      if (!page.length) return;
      yield Buffer.from(
        page.map((e) => JSON.stringify({ ...e, occurred_at: new Date(e.occurred_at).toISOString() })).join('\n') + '\n',
      );
      after = Number(page[page.length - 1]!.seq);
      if (page.length < AUDIT_PAGE) return;
    }
  }
  return Readable.from(lines(), { objectMode: false });
}

interface PackedFile {
  path: string;
  objectKey: string;
  sha256: string;
  size: number;
  description: string;
}

/** The document versions of the snapshot with where their bytes are, sorted by the path they get. */
async function packedFiles(trx: Knex.Transaction, pack: EvidencePack): Promise<PackedFile[]> {
  const files: PackedFile[] = [];
  const wanted = new Map(pack.snapshotDocuments.map((d) => [`${d.documentId}/${d.number}`, d]));
  const ids = pack.snapshotDocuments.map((d) => d.documentId);
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await DocumentVersion.query(trx)
      .where('tenant_id', pack.tenantId)
      .whereIn('document_id', ids.slice(i, i + 500));
    for (const v of rows) {
      const d = wanted.get(`${v.documentId}/${v.number}`);
      if (!d) continue;
      if (!v.objectKey)
        throw new Error(`document ${v.documentId} version ${v.number} was destroyed since the snapshot`);
      files.push({
        path: `documents/${v.documentId}/v${v.number}-${cleanFilename(v.filename).replace(/[^A-Za-z0-9._-]/g, '_')}`,
        objectKey: v.objectKey,
        sha256: v.sha256,
        size: Number(v.sizeBytes),
        description: `${d.category}: ${d.title} (version ${v.number}, ${v.mediaType})`,
      });
    }
  }
  if (files.length !== wanted.size) throw new Error('a document version of the snapshot is missing');
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function setPack(ctx: JobContext, packId: string, changes: Record<string, unknown>): Promise<void> {
  await ctx.inTenant((trx) =>
    trx('evidence_packs')
      .where({ tenant_id: ctx.tenantId, id: packId })
      .update({ ...changes, version: trx.raw('version + 1'), updated_at: trx.fn.now() }),
  );
}

/**
 * Builds a pack: streams the ZIP into the document store entry by entry (each document's bytes
 * straight from the store, checked against the SHA-256 it was stored with; the audit events a page
 * at a time), then keeps it as a confidential document of the record. Entries are in path order
 * with the snapshot's time as their date, and manifest.json comes last, so the same snapshot gives
 * the same manifest and the same ZIP.
 */
export const evidencePackJob: JobHandler = async (ctx) => {
  const packId = (ctx.job.payload as { packId: string }).packId;
  const pack = await ctx.inTenant(async (trx): Promise<EvidencePack | undefined> =>
    EvidencePack.query(trx).where({ tenant_id: ctx.tenantId, id: packId }).first(),
  );
  if (!pack || pack.status === 'ready') return null;
  const { files, entities } = await ctx.inTenant(async (trx) => ({
    files: await packedFiles(trx, pack),
    entities: await auditedEntities(trx, pack),
  }));
  const total = files.length + 3;
  await setPack(ctx, pack.id, { status: 'building', progress_done: 0, progress_total: total, error: null });
  await ctx.progress(0, total);

  const store = documentStore(ctx.services);
  const key = objectKey(ctx.tenantId, newId());
  const manifest: ManifestFile[] = [];
  let done = 0;
  const entryDone = async () => {
    done++;
    await ctx.progress(done, total);
    if (done % PROGRESS_EVERY === 0) await setPack(ctx, pack.id, { progress_done: done });
  };
  const entry = { mtime: new Date(pack.snapshotAt), mode: 0o100644 };
  const zip = new ZipFile();
  const zipped = new Measure();
  let failure: Error | null = null;
  const fail = (error: Error) => {
    failure ??= error;
    zipped.destroy(error);
  };
  zip.on('error', fail);
  zip.outputStream.on('error', fail);
  zip.outputStream.pipe(zipped);

  // Each entry's stream is opened only when the ZIP reaches it, so one document is open at a time.
  const measured = (
    path: string,
    open: () => Promise<Readable>,
    describe: { kind: ManifestFile['kind']; description: string; sha256?: string },
  ) => {
    zip.addReadStreamLazy(path, { ...entry, compress: describe.kind !== 'document' }, (cb) => {
      open().then(
        (source) => {
          const measure = new Measure();
          source.on('error', (error) => measure.destroy(error));
          measure.on('error', fail);
          measure.on('end', () => {
            const sha256 = measure.hash.digest('hex');
            if (describe.sha256 && describe.sha256 !== sha256)
              return fail(new Error(`${path}: the stored bytes no longer match their SHA-256`));
            manifest.push({ path, sha256, size: measure.size, kind: describe.kind, description: describe.description });
            entryDone().catch(fail);
          });
          cb(null, source.pipe(measure));
        },
        (error: Error) => cb(error, undefined as never),
      );
    });
  };

  for (const file of files)
    measured(file.path, () => store.get(file.objectKey), {
      kind: 'document',
      description: file.description,
      sha256: file.sha256,
    });
  measured(
    'decisions.json',
    async () =>
      Readable.from([Buffer.from(JSON.stringify(await ctx.inTenant((trx) => decisionsOf(trx, pack)), null, 2) + '\n')]),
    {
      kind: 'decisions',
      description: 'Decisions on the record in the period: panel recommendations, approvals, reviews, placement steps',
    },
  );
  measured('audit-events.jsonl', async () => auditLines(ctx, pack, entities), {
    kind: 'audit_events',
    description: `Audit events of the period on the record and its documents, up to sequence ${Number(pack.snapshotSeq)}`,
  });
  const manifestText = () =>
    JSON.stringify(
      {
        format: 'hearth-evidence-pack/1',
        subject: { type: pack.subjectType, id: pack.subjectId },
        period: { from: pack.periodFrom, to: pack.periodTo, timeZone: 'UTC' },
        snapshot: { auditSeq: Number(pack.snapshotSeq), takenAt: new Date(pack.snapshotAt).toISOString() },
        files: [...manifest].sort((a, b) => (a.path < b.path ? -1 : 1)),
      },
      null,
      2,
    ) + '\n';
  let manifestSha256 = '';
  zip.addReadStreamLazy('manifest.json', { ...entry, compress: true }, (cb) => {
    const text = Buffer.from(manifestText());
    manifestSha256 = crypto.createHash('sha256').update(text).digest('hex');
    cb(null, Readable.from([text]));
  });
  zip.end();

  const body = new PassThrough();
  zipped.pipe(body);
  zipped.on('error', (error) => body.destroy(error));
  try {
    await store.put(key, body, { contentType: 'application/zip' });
    if (failure) throw failure;
  } catch (error) {
    await store.delete(key).catch(() => undefined);
    await setPack(ctx, pack.id, { status: 'failed', error: (error as Error).message.slice(0, 1000) });
    return { failed: (error as Error).message };
  }
  await entryDone();

  const sha256 = zipped.hash.digest('hex');
  const keep = ctx.inTenant(async (trx) => {
    const scope = jobScope(ctx, trx, pack);
    const { document } = await createDocument(
      scope,
      {
        subjectType: pack.subjectType,
        subjectId: pack.subjectId,
        category: 'evidence_pack',
        title: `Evidence pack ${pack.periodFrom} to ${pack.periodTo}`,
        sensitivity: 'confidential',
      },
      {
        objectKey: key,
        filename: `evidence-pack-${pack.subjectType}-${pack.periodFrom}-${pack.periodTo}.zip`,
        mediaType: 'application/zip',
        sizeBytes: zipped.size,
        sha256,
        // Made by Hearth from documents each scanned as they arrived.
        scanStatus: 'not_scanned',
        scanDetail: null,
        source: 'generated',
        template: null,
      },
    );
    const ready = await EvidencePack.query(trx)
      .where({ tenant_id: ctx.tenantId, id: pack.id })
      .patch({
        status: 'ready',
        progressDone: total,
        documentId: document.id,
        manifestSha256,
        version: trx.raw('version + 1') as unknown as number,
        updatedAt: new Date(),
      })
      .returning('*')
      .first();
    await ctx.audit(trx, {
      action: 'evidence_pack.built',
      entityType: 'evidence_pack',
      entityId: pack.id,
      before: evidencePackToApi(pack),
      after: ready ? evidencePackToApi(ready as unknown as EvidencePack) : null,
    });
    return { documentId: document.id, manifestSha256, sha256, size: zipped.size };
  });
  try {
    return await keep;
  } catch (error) {
    // The ZIP's rows did not commit: its bytes go before the attempt fails, and a retry builds it afresh.
    await store.delete(key).catch(() => undefined);
    throw error;
  }
};
