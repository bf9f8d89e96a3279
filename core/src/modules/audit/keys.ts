import { auditSettingsFromEnv, type AuditSettings } from '../../config';

/**
 * The audit keys this process hashes and verifies with.
 *
 * Every append needs the chain key, and appends happen in many places that are handed no
 * configuration: requests, jobs, the ledger, and tenants bootstrapped by seeds, scripts and the test
 * harness before any server starts. Threading the key through each of them would put a key in a
 * dozen signatures for one purpose; instead the process holds one keyring, which is what the
 * configuration says anyway (one process, one configuration). The server installs its own
 * (`useAuditKeys(config.audit)`) before it touches the database; until then the keyring is read
 * from this process's environment by the same rules as loadConfig, so production without
 * HEARTH_AUDIT_KEY still refuses rather than hashing with a development key.
 */
let installed: AuditSettings | null = null;

export function useAuditKeys(settings: AuditSettings): void {
  installed = settings;
}

export function auditKeys(): AuditSettings {
  installed ??= auditSettingsFromEnv(process.env);
  return installed;
}
