import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { forEachTenant, grantToSystemRoles, runStatements, tenantIsolation } from './support';

/**
 * Documents: files kept against a record. A document is what the file is and whose (its record, the
 * child and the household that record belongs to, for the fence and the carer portal), with its
 * category, sensitivity and expiry; each upload is a version with the object key its bytes are stored
 * under (never a file's name), its detected type, size, SHA-256 and scan verdict; every download is a
 * row of the download log. The settings hold each tenant's upload limit.
 *
 * Existing tenants get the pack's `document_category` list and the document permissions.
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `CREATE TABLE documents (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       subject_type text NOT NULL CHECK (subject_type IN ('child', 'case_record', 'household', 'member', 'check', 'claim',
         'claim_line', 'placement', 'panel', 'payment_run', 'invoice')),
       subject_id uuid NOT NULL,
       -- Whose record it is, fixed when the document is attached: the fence reads child_id, the portal household_id.
       child_id uuid,
       household_id uuid,
       category text NOT NULL,
       title text NOT NULL,
       sensitivity text NOT NULL DEFAULT 'staff' CHECK (sensitivity IN ('shared_with_household', 'staff', 'confidential')),
       expires_on date,
       status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'destroyed')),
       current_version integer,
       version integer NOT NULL DEFAULT 1,
       created_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, child_id) REFERENCES children (tenant_id, id),
       FOREIGN KEY (tenant_id, household_id) REFERENCES carer_households (tenant_id, id)
     )`,
    'CREATE INDEX documents_subject ON documents (tenant_id, subject_type, subject_id, id)',
    'CREATE INDEX documents_child ON documents (tenant_id, child_id) WHERE child_id IS NOT NULL',
    'CREATE INDEX documents_household ON documents (tenant_id, household_id) WHERE household_id IS NOT NULL',
    `CREATE INDEX documents_expiry ON documents (tenant_id, expires_on, id) WHERE expires_on IS NOT NULL AND status = 'active'`,
    ...tenantIsolation('documents', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE document_versions (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       document_id uuid NOT NULL,
       number integer NOT NULL CHECK (number >= 1),
       -- Null once destroyed: the row stays as the tombstone's detail, the bytes do not.
       object_key text,
       filename text NOT NULL,
       media_type text NOT NULL,
       size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
       sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
       scan_status text NOT NULL CHECK (scan_status IN ('clean', 'quarantined', 'not_scanned')),
       scan_detail text,
       source text NOT NULL DEFAULT 'upload' CHECK (source IN ('upload', 'generated')),
       template jsonb,
       uploaded_by uuid,
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, id),
       UNIQUE (tenant_id, document_id, number),
       UNIQUE (tenant_id, object_key),
       FOREIGN KEY (tenant_id, document_id) REFERENCES documents (tenant_id, id)
     )`,
    ...tenantIsolation('document_versions', ['SELECT', 'INSERT', 'UPDATE']),

    `CREATE TABLE document_downloads (
       tenant_id uuid NOT NULL REFERENCES tenants (id),
       id uuid NOT NULL,
       document_id uuid NOT NULL,
       version_number integer NOT NULL,
       actor_type text NOT NULL CHECK (actor_type IN ('user', 'api_key')),
       actor_id uuid NOT NULL,
       via text NOT NULL CHECK (via IN ('stream', 'signed_url')),
       request_id text,
       at timestamptz NOT NULL DEFAULT clock_timestamp(),
       PRIMARY KEY (tenant_id, id),
       FOREIGN KEY (tenant_id, document_id, version_number) REFERENCES document_versions (tenant_id, document_id, number)
     )`,
    'CREATE INDEX document_downloads_document ON document_downloads (tenant_id, document_id, at DESC, id DESC)',
    // The log is append-only: who read what is never edited or removed.
    ...tenantIsolation('document_downloads', ['SELECT', 'INSERT']),

    `CREATE TABLE document_settings (
       tenant_id uuid NOT NULL REFERENCES tenants (id) PRIMARY KEY,
       max_upload_bytes bigint NOT NULL CHECK (max_upload_bytes >= 1024),
       version integer NOT NULL DEFAULT 1,
       updated_by uuid,
       updated_at timestamptz NOT NULL DEFAULT now()
     )`,
    ...tenantIsolation('document_settings', ['SELECT', 'INSERT', 'UPDATE']),
  ]);

  await grantToSystemRoles(knex, DOCUMENT_GRANTS);
  await seedCategories(knex);
}

/** A literal copy, not an import of systemRoles.ts: a migration says what was granted when it ran. */
const DOCUMENT_GRANTS: Record<string, string[]> = {
  tenant_admin: ['documents:read', 'documents:upload', 'documents:manage', 'documents:read_confidential'],
  supervisor: ['documents:read', 'documents:upload', 'documents:manage', 'documents:read_confidential'],
  caseworker: ['documents:read', 'documents:upload'],
  placement_officer: ['documents:read', 'documents:upload'],
  finance_officer: ['documents:read', 'documents:upload'],
  panel_member: ['documents:read'],
};

/** The pack's category list, as it stood when this ran, for service tenants made before it. */
async function seedCategories(knex: Knex): Promise<void> {
  // Run from source or from dist/: the packs are wherever the repository is.
  let packsRoot = path.join(__dirname, 'packs');
  for (let dir = __dirname; !fs.existsSync(path.join(dir, 'packs', 'uk', 'pack.json'));) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`Cannot find packs/ above ${__dirname}`);
    dir = parent;
    packsRoot = path.join(dir, 'packs');
  }
  const listFor = (packId: string) => {
    const base = packId.startsWith('usa') ? 'usa' : 'uk';
    const file = path.join(packsRoot, base, 'lookups', 'document_category.json');
    return JSON.parse(fs.readFileSync(file, 'utf8')) as {
      key: string;
      name: string;
      values: Array<{ code: string; label: string; sortOrder?: number }>;
    };
  };
  await forEachTenant(knex, async (trx, tenantId) => {
    const tenant = (await trx('tenants').where({ id: tenantId }).first('kind', 'pack_id')) as
      { kind: string; pack_id: string } | undefined;
    if (!tenant || tenant.kind !== 'service') return;
    if (await trx('lookup_lists').where({ tenant_id: tenantId, key: 'document_category' }).first('key')) return;
    const list = listFor(tenant.pack_id);
    await trx('lookup_lists').insert({ tenant_id: tenantId, key: list.key, name: list.name });
    await trx('lookup_values').insert(
      list.values.map((value, index) => ({
        tenant_id: tenantId,
        list_key: list.key,
        code: value.code,
        label: value.label,
        sort_order: value.sortOrder ?? (index + 1) * 10,
        source: 'default',
      })),
    );
  });
}
