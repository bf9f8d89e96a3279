import { authenticator } from 'otplib';

// One 30-second step either side, for clock drift between the server and the phone.
const totp = authenticator.clone({ window: 1 });

export function newTotpSecret(): string {
  return totp.generateSecret();
}

export function totpUri(secret: string, accountName: string, issuer: string): string {
  return totp.keyuri(accountName, issuer, secret);
}

/**
 * The 30-second step a code belongs to, or null when it matches none in the window. Callers keep
 * the last step accepted and refuse any code at or before it, so a code works once (RFC 6238 §5.2).
 */
export function totpStep(secret: string, code: string, now = Date.now()): number | null {
  try {
    const delta = totp.checkDelta(code, secret);
    return delta === null ? null : Math.floor(now / 1000 / 30) + delta;
  } catch {
    return null;
  }
}

/** The current code (or one `steps` ahead), for tests and for scripts that drive an enrolled account. */
export function currentTotp(secret: string, steps = 0): string {
  return steps === 0 ? totp.generate(secret) : totp.clone({ epoch: Date.now() + steps * 30_000 }).generate(secret);
}
