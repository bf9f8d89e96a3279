import type { Knex } from 'knex';
import { forEachTenant, grantToSystemRoles, runStatements } from './support';

/**
 * The audit chain becomes tamper-evident against the database's owner (issue 17).
 *
 * - Events are hashed with HMAC-SHA256 under a key from configuration, which the database never
 *   sees; `key_id` names the key (NULL: an event hashed before this migration, with plain SHA-256).
 * - Each tenant's head records where keyed hashing starts (`keyed_from_seq`): one past the last event
 *   when this migration ran, 1 for a chain that starts after it. Verification accepts an unkeyed
 *   hash only below it, and every signed checkpoint carries it, so moving it shows.
 * - The application role may no longer write audit_events or audit_chain_heads. It appends through
 *   hearth_append_audit_event, which checks the event against the head, refuses a time that is not
 *   now, and inserts the event and moves the head in one call (one round trip per append).
 */
export async function up(knex: Knex): Promise<void> {
  await runStatements(knex, [
    `ALTER TABLE audit_events ADD COLUMN key_id text`,
    `ALTER TABLE audit_chain_heads ADD COLUMN keyed_from_seq bigint NOT NULL DEFAULT 1`,
    `ALTER TABLE audit_chain_heads ADD COLUMN last_occurred_at timestamptz`,
  ]);

  // The boundary, for chains that exist: every event so far is unkeyed, every later one keyed.
  await forEachTenant(knex, async (trx, tenantId) => {
    await trx.raw(
      `UPDATE audit_chain_heads h
          SET keyed_from_seq = h.last_seq + 1,
              last_occurred_at = (SELECT max(e.occurred_at) FROM audit_events e WHERE e.tenant_id = h.tenant_id)
        WHERE h.tenant_id = ?`,
      [tenantId],
    );
  });

  await runStatements(knex, [
    `REVOKE INSERT ON audit_events FROM hearth_app`,
    `REVOKE INSERT, UPDATE, DELETE ON audit_chain_heads FROM hearth_app`,

    // Against mistakes and casual edits by anyone, the owner included: a head starts at the genesis,
    // moves one event at a time, keeps its boundary, and is never deleted. (A superuser can switch
    // triggers off; what catches that is verification against the signed checkpoints.)
    `CREATE OR REPLACE FUNCTION hearth_audit_head_moves_forward() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'INSERT' THEN
           IF NEW.last_seq <> 0 OR NEW.last_hash <> repeat('0', 64) OR NEW.keyed_from_seq <> 1 THEN
             RAISE EXCEPTION 'audit_chain_heads: a head starts at the genesis (seq 0, keyed from 1)' USING ERRCODE = 'P0001';
           END IF;
           RETURN NEW;
         END IF;
         IF TG_OP = 'UPDATE' AND NEW.tenant_id = OLD.tenant_id AND NEW.keyed_from_seq = OLD.keyed_from_seq AND NEW.last_seq = OLD.last_seq + 1 THEN
           RETURN NEW;
         END IF;
         RAISE EXCEPTION 'audit_chain_heads moves forward one event at a time: % refused', TG_OP USING ERRCODE = 'P0001';
       END $$`,
    `CREATE TRIGGER audit_chain_heads_forward BEFORE INSERT OR UPDATE OR DELETE ON audit_chain_heads
       FOR EACH ROW EXECUTE FUNCTION hearth_audit_head_moves_forward()`,
    `CREATE TRIGGER audit_chain_heads_no_truncate BEFORE TRUNCATE ON audit_chain_heads
       FOR EACH STATEMENT EXECUTE FUNCTION hearth_refuse_change()`,

    // The one way to append. It runs as its owner (SECURITY DEFINER, with a fixed search_path so a
    // caller's schema cannot stand in for a table) for the tenant in app.tenant_id only. The hash is
    // computed by the caller (the key stays out of the database); what the database vouches for is
    // the position (seq and prev_hash against the locked head) and the time. The time is checked on
    // entry, before any lock wait: within 2 seconds of the database's clock, and not before the
    // event it follows (to the millisecond: the caller's clock has no finer grain). A stale head or a time out of range is answered, not raised, so the caller
    // can try again with what it is told without losing its transaction.
    `CREATE OR REPLACE FUNCTION hearth_append_audit_event(
       p_tenant_id uuid, p_id uuid, p_seq bigint, p_prev_hash text, p_occurred_at timestamptz,
       p_actor_type text, p_actor_id text, p_action text, p_entity_type text, p_entity_id text,
       p_before jsonb, p_after jsonb, p_ip text, p_user_agent text, p_request_id text,
       p_key_id text, p_hash text)
       RETURNS TABLE (outcome text, head_seq bigint, head_hash text, head_time timestamptz, db_time timestamptz)
       LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
       DECLARE
         v_now timestamptz := clock_timestamp();
         v_head audit_chain_heads%ROWTYPE;
       BEGIN
         IF p_tenant_id IS NULL OR p_tenant_id IS DISTINCT FROM hearth_current_tenant() THEN
           RAISE EXCEPTION 'hearth_append_audit_event: tenant % is not the tenant in scope (app.tenant_id)', p_tenant_id USING ERRCODE = '42501';
         END IF;
         IF p_key_id IS NULL OR p_key_id !~ '^[0-9a-f]{16}$' OR p_hash IS NULL OR p_hash !~ '^[0-9a-f]{64}$' THEN
           RAISE EXCEPTION 'hearth_append_audit_event: an event needs its chain key id and its HMAC-SHA256' USING ERRCODE = '22023';
         END IF;
         IF p_occurred_at IS NULL OR p_occurred_at < v_now - interval '2 seconds' OR p_occurred_at > v_now + interval '2 seconds' THEN
           RETURN QUERY SELECT 'clock'::text, NULL::bigint, NULL::text, NULL::timestamptz, v_now;
           RETURN;
         END IF;
         SELECT * INTO v_head FROM audit_chain_heads WHERE tenant_id = p_tenant_id FOR UPDATE;
         IF NOT FOUND THEN
           INSERT INTO audit_chain_heads (tenant_id, last_seq, last_hash, keyed_from_seq) VALUES (p_tenant_id, 0, repeat('0', 64), 1)
             ON CONFLICT (tenant_id) DO NOTHING;
           SELECT * INTO v_head FROM audit_chain_heads WHERE tenant_id = p_tenant_id FOR UPDATE;
         END IF;
         IF p_seq IS DISTINCT FROM v_head.last_seq + 1 OR p_prev_hash IS DISTINCT FROM v_head.last_hash OR date_trunc('milliseconds', p_occurred_at) < date_trunc('milliseconds', v_head.last_occurred_at) THEN
           RETURN QUERY SELECT 'stale'::text, v_head.last_seq, v_head.last_hash, v_head.last_occurred_at, clock_timestamp();
           RETURN;
         END IF;
         INSERT INTO audit_events (tenant_id, id, seq, occurred_at, actor_type, actor_id, action, entity_type, entity_id, before, after, ip, user_agent, request_id, prev_hash, hash, key_id)
           VALUES (p_tenant_id, p_id, p_seq, p_occurred_at, p_actor_type, p_actor_id, p_action, p_entity_type, p_entity_id, p_before, p_after, p_ip, p_user_agent, p_request_id, p_prev_hash, p_hash, p_key_id);
         UPDATE audit_chain_heads SET last_seq = p_seq, last_hash = p_hash, last_occurred_at = p_occurred_at WHERE tenant_id = p_tenant_id;
         RETURN QUERY SELECT 'appended'::text, p_seq, p_hash, p_occurred_at, v_now;
       END $$`,
    `REVOKE ALL ON FUNCTION hearth_append_audit_event(uuid, uuid, bigint, text, timestamptz, text, text, text, text, text, jsonb, jsonb, text, text, text, text, text) FROM PUBLIC`,
    `GRANT EXECUTE ON FUNCTION hearth_append_audit_event(uuid, uuid, bigint, text, timestamptz, text, text, text, text, text, jsonb, jsonb, text, text, text, text, text) TO hearth_app`,
  ]);

  // A literal list, not an import of systemRoles.ts: a migration says what was granted when it ran.
  await grantToSystemRoles(knex, { tenant_admin: ['audit:checkpoint'], platform_admin: ['audit:checkpoint'] });
}
