import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';

export interface ReceivedMail {
  to: string[];
  from: string;
  subject: string;
  text: string;
  messageId: string;
  parsed: ParsedMail;
}

export interface TestSmtpServer {
  /** smtp://127.0.0.1:<port>?tls=off: what HEARTH_EMAIL_TARGET names. */
  url: string;
  /** Every message accepted, copies of one message included, in arrival order. */
  received: ReceivedMail[];
  /** The messages a mail client would show: one per Message-ID. */
  distinct(): ReceivedMail[];
  /** Recipients refused for good (550) or for now (451), by address. */
  refuse(address: string, how: 'permanent' | 'temporary'): void;
  /** Resolves once `count` messages have arrived (or rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

/**
 * A real SMTP server on a loopback port, for the email channel's tests: smtp-server takes the
 * messages as any relay would, mailparser reads them back. No TLS and no AUTH on loopback.
 */
export async function startSmtpServer(): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const refused = new Map<string, 'permanent' | 'temporary'>();
  const waiters: Array<() => void> = [];
  const options: SMTPServerOptions = {
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(address, _session, callback) {
      const how = refused.get(address.address.toLowerCase());
      if (!how) return callback();
      const error = new Error(how === 'permanent' ? 'No such mailbox' : 'Mailbox busy, try later') as Error & {
        responseCode: number;
      };
      error.responseCode = how === 'permanent' ? 550 : 451;
      return callback(error);
    },
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          const to = [parsed.to ?? []].flat().flatMap((a) => a.value.map((v) => v.address ?? ''));
          received.push({
            to,
            from: parsed.from?.text ?? '',
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            messageId: parsed.messageId ?? '',
            parsed,
          });
          waiters.splice(0).forEach((wake) => wake());
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  };
  const server = new SMTPServer(options);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}?tls=off`,
    received,
    distinct: () => [...new Map(received.map((m) => [m.messageId, m])).values()],
    refuse: (address, how) => refused.set(address.toLowerCase(), how),
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`waited for ${count} messages, ${received.length} came`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
      return received;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
