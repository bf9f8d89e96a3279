import type { Knex } from 'knex';
import { runStatements } from './support';

/** The application role and the functions RLS policies read the request's scope from. */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    // Roles are cluster-wide: another database on the same server may have made it already.
    `DO $$ BEGIN
       CREATE ROLE hearth_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
     EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
     END $$`,
    // The connecting user must be able to SET ROLE to it; a superuser already can.
    `DO $$ BEGIN
       IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
         EXECUTE format('GRANT hearth_app TO %I', current_user);
       END IF;
     END $$`,
    `GRANT USAGE ON SCHEMA public TO hearth_app`,
    `CREATE OR REPLACE FUNCTION hearth_current_tenant() RETURNS uuid
       LANGUAGE sql STABLE AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$`,
    `CREATE OR REPLACE FUNCTION hearth_platform_scope() RETURNS boolean
       LANGUAGE sql STABLE AS $$ SELECT coalesce(current_setting('app.platform', true), '') = 'on' $$`,
  ]);
}
