import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import { PermanentFailure, type NotificationChannel } from '../../core/src/plugins/api';

/** SMTP reply codes that say the recipient will never be taken (5xx), as opposed to "try later" (4xx). */
function isPermanent(error: unknown): boolean {
  const code = (error as { responseCode?: number }).responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

/**
 * Email through nodemailer over one pooled SMTP connection set. The Message-ID is Hearth's, the same
 * on every attempt, so a retry after a lost answer is recognisable as the same message downstream.
 */
export const smtpChannel: NotificationChannel = {
  key: 'smtp',
  medium: 'email',
  open({ target }) {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      throw new Error(`"${target}" is not a URL (smtp://user:password@host:587)`);
    }
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:')
      throw new Error(`"${url.protocol}" is not smtp: or smtps:`);
    const transport = nodemailer.createTransport({
      host: url.hostname,
      port: url.port ? Number(url.port) : url.protocol === 'smtps:' ? 465 : 587,
      secure: url.protocol === 'smtps:',
      auth: url.username
        ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
        : undefined,
      pool: true,
      maxConnections: 4,
      // A connection is kept for many messages: a new one costs its handshake (and TLS) again.
      maxMessages: 1000,
      // A loopback test server has no certificate; anywhere else STARTTLS is used when offered.
      ignoreTLS: url.searchParams.get('tls') === 'off',
      connectionTimeout: 10_000,
      socketTimeout: 30_000,
    });
    return {
      async send(message) {
        try {
          // Composed here into one buffer, which goes to the socket in one write: handed the parts, the
          // transport streamed each MIME part as a write of its own, and on a busy machine each write
          // cost more than composing the whole message.
          const composed = new MailComposer({
            from: message.from ?? undefined,
            to: message.to,
            subject: message.subject ?? undefined,
            text: message.text,
            html: message.html ?? undefined,
            messageId: message.messageId,
          }).compile();
          const envelope = composed.getEnvelope();
          const raw = await composed.build();
          const info = (await transport.sendMail({
            envelope: { from: envelope.from || undefined, to: envelope.to },
            raw,
          })) as { response?: string; rejected?: unknown[] };
          if (info.rejected?.length) throw new PermanentFailure(`the SMTP server refused ${message.to}`);
          return { providerMessageId: info.response ?? null, outcome: 'sent' };
        } catch (error) {
          if (error instanceof PermanentFailure) throw error;
          if (isPermanent(error)) throw new PermanentFailure((error as Error).message);
          throw error;
        }
      },
      async close() {
        transport.close();
      },
    };
  },
};
