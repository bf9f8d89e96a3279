import { authenticator } from 'otplib';

// One 30-second step either side, for clock drift between the server and the phone.
const totp = authenticator.clone({ window: 1 });

export function newTotpSecret(): string {
  return totp.generateSecret();
}

export function totpUri(secret: string, accountName: string, issuer: string): string {
  return totp.keyuri(accountName, issuer, secret);
}

export function verifyTotp(secret: string, code: string): boolean {
  try {
    return totp.verify({ token: code, secret });
  } catch {
    return false;
  }
}

/** The current code, for tests and for scripts that drive an enrolled account. */
export function currentTotp(secret: string): string {
  return totp.generate(secret);
}
