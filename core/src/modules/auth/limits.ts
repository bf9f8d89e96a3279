import type { RateLimits, Refusal } from '../../auth/rateLimits';
import type { OperationResult } from '../../http/operation';
import { Problem } from '../../http/problem';

/**
 * 429 with Retry-After in whole seconds. The answer does not say which limit refused: an unknown
 * account is refused exactly like a known one. Returned rather than thrown, like a failed log-in:
 * nothing in the request's transaction needs undoing, and the counters live outside it.
 */
export function tooManyRequests(refusal: Refusal): OperationResult {
  const problem = new Problem(
    'tooManyRequests',
    'Too many attempts; try again after the number of seconds in Retry-After',
  );
  return {
    status: problem.status,
    problem: problem.body,
    headers: { 'Retry-After': String(refusal.retryAfterSeconds) },
  };
}

/**
 * One log-in attempt's place in the limits. It is counted before anything is looked up, as a
 * failure until it proves otherwise, against the client's IP, the account (tenant and email as
 * sent, whether or not they exist) at that IP, and the account from anywhere. So an unknown account
 * is limited exactly like a known one, a failed log-in costs the same time either way, and parallel
 * attempts cannot all slip in before the first failure is written.
 */
export class LoginAttempt {
  private readonly ipKey: string;
  private readonly accountAtIpKey: string;
  private readonly accountKey: string;

  constructor(
    private readonly limits: RateLimits,
    ip: string | null,
    tenant: string,
    email: string,
  ) {
    this.ipKey = limits.ipKey(ip);
    this.accountAtIpKey = limits.accountAtIpKey(tenant, email, ip);
    this.accountKey = limits.accountKey(tenant, email);
  }

  /** Counts the attempt; a refusal says how long to wait. The IP goes first, so a refused client cannot use up an account's allowance. */
  begin(): Promise<Refusal | null> {
    return this.limits.take([
      ['loginFailuresPerIp', this.ipKey],
      ['loginConsecutiveFailures', this.accountAtIpKey],
      ['loginAttemptsPerAccount', this.accountKey],
    ]);
  }

  /**
   * The password was right, though the log-in did not finish (a TOTP code is needed, or the account
   * is locked): nothing was guessed wrong, so the attempt is not a failure. Failures in a row are not
   * forgotten either: only a full log-in does that, or else asking without a code would clear the
   * count of wrong codes.
   */
  async passwordRight(): Promise<void> {
    await this.limits.giveBack('loginFailuresPerIp', this.ipKey);
    await this.limits.giveBack('loginConsecutiveFailures', this.accountAtIpKey);
  }

  /** Logged in: not a failure, and the account's failures in a row from this client are forgotten. */
  async succeeded(): Promise<void> {
    await this.limits.giveBack('loginFailuresPerIp', this.ipKey);
    await this.limits.forget('loginConsecutiveFailures', this.accountAtIpKey);
  }
}
