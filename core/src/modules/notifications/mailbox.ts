import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { NotificationChannel } from './channels';

/**
 * The embedded default for email: each message an .eml file under the target folder, one folder per
 * recipient (`.hearth/mailbox/<address>/<message id>.eml`), which any mail client opens. Written to a
 * temporary name and renamed, under the message's own id: a retry of a message already written
 * replaces it with the same bytes, so a message is in the mailbox once however often it is attempted.
 */
export const mailboxChannel: NotificationChannel = {
  key: 'mailbox',
  medium: 'email',
  open({ target }) {
    const root = path.resolve(target);
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
    return {
      async send(message) {
        // An address becomes a folder name: anything outside a safe set is escaped, so no address climbs out of the root.
        const folder = path.join(root, message.to.toLowerCase().replace(/[^a-z0-9@._+-]/g, '_'));
        await fs.promises.mkdir(folder, { recursive: true, mode: 0o700 });
        const mail = new MailComposer({
          from: message.from ?? undefined,
          to: message.to,
          subject: message.subject ?? undefined,
          text: message.text,
          html: message.html ?? undefined,
          messageId: message.messageId,
          date: new Date(),
        });
        const bytes = await mail.compile().build();
        const file = path.join(folder, `${message.id}.eml`);
        const partial = `${file}.${crypto.randomBytes(6).toString('hex')}.partial`;
        await fs.promises.writeFile(partial, bytes, { mode: 0o600 });
        await fs.promises.rename(partial, file);
        return { providerMessageId: path.relative(root, file), outcome: 'delivered' };
      },
    };
  },
};
